/**
 * The overlay: kernel overlayfs semantics (redirect_dir=off, index=off,
 * metacopy=off, xino=off) over read-only lower directories and an optional
 * writable upper directory, as plain calls on paths. Knows nothing of FUSE:
 * every method returns a value or throws FsError (or a Node fs errno error).
 * Metadata calls are synchronous on purpose; calls that may copy data are async.
 * Permission checks are the kernel's (default_permissions), not ours.
 */
import {
  closeSync, constants as fsc, fchmodSync, fchownSync, ftruncateSync, lchownSync, linkSync, mkdirSync,
  openSync, readlinkSync, realpathSync, statfsSync, statSync, chmodSync, symlinkSync, unlinkSync,
} from 'node:fs';
import { FsError, LayerfsError } from '../errors.js';
import {
  getxattr as sysGetxattr, isDir, isReg, renameat2, RENAME_EXCHANGE, isSymlink, listxattr as sysListxattr, lstat, mknodRaw, removexattr as sysRemovexattr,
  S_IFMT, setxattr as sysSetxattr, ST, utimens as sysUtimens, type StatBuf,
} from '../sys.js';
import { newOwner, type Caller } from './caller.js';
import { CopyUp } from './copy-up.js';
import { mergeDir } from './merge-dir.js';
import { isWithin, normalize, realJoin, splitParent } from './paths.js';
import { clearUpperDir, placeNew, removeUpper, renameUpper, whiteoutAbsent, type NewEntryTarget } from './place.js';
import { Resolver, type Found, type Layer } from './resolve.js';
import { isOpaqueDir, isWhiteoutName, setOpaque, WHITEOUT_PREFIX } from './whiteout.js';
import { WorkDir } from './work-dir.js';
import { isReservedXattr, toLayerName, toOverlayName } from './xattr-names.js';

export type { Caller } from './caller.js';

export interface OverlayOptions {
  /** Top layer first, like lowerdir=L1:L2. */
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
}

export interface OverlayStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namemax: number;
}

const NO_ID = 0xffffffff;
const O_ACCMODE = 3;

export class Overlay {
  readonly readonly: boolean;
  private readonly resolver: Resolver;
  private readonly work: WorkDir | undefined;
  private readonly copier: CopyUp | undefined;

  constructor(opts: OverlayOptions) {
    const layers = validateLayers(opts);
    this.resolver = new Resolver(layers);
    this.readonly = opts.upperdir === undefined;
    if (!this.readonly) {
      this.work = new WorkDir(realpathSync(opts.workdir!));
      this.copier = new CopyUp(this.resolver, this.work, (path) => this.resolver.invalidate(path, false));
    }
  }

  // ---- reading ----

  getattr(path: string): StatBuf {
    return this.resolver.found(path, 'getattr').stat;
  }

  readdir(path: string): { names: string[]; stats: StatBuf[] } {
    return mergeDir(this.resolver.dir(path, 'readdir').dirs);
  }

  readlink(path: string): string {
    const e = this.resolver.found(path, 'readlink');
    if (!isSymlink(e.stat)) throw new FsError('EINVAL', 'readlink', path);
    return readlinkSync(e.real);
  }

  statfs(_path: string): OverlayStatfs {
    const s = statfsSync(this.resolver.layers[0]!.root);
    return { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, namemax: 255 };
  }

  getxattr(path: string, name: string): Buffer {
    const e = this.resolver.found(path, 'getxattr');
    const value = isReservedXattr(name) ? null : sysGetxattr(e.real, toLayerName(name));
    if (value === null) throw new FsError('ENODATA', 'getxattr', path);
    return value;
  }

  listxattr(path: string): string[] {
    const names: string[] = [];
    for (const real of sysListxattr(this.resolver.found(path, 'listxattr').real)) {
      const name = toOverlayName(real);
      if (name !== null) names.push(name);
    }
    return names;
  }

  // ---- opening ----

  async open(path: string, flags: number, _c: Caller): Promise<number> {
    const e = this.resolver.found(path, 'open');
    const clean = (flags & ~(fsc.O_CREAT | fsc.O_EXCL)) | fsc.O_NOFOLLOW;
    const writes = (flags & O_ACCMODE) !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0;
    if (!writes) return this.isUpper(e) ? openSync(e.real, clean) : openLower(e.real, clean);
    const copier = this.writable('open', path);
    if (e.dirs.length > 0) throw new FsError('EISDIR', 'open', path);
    const up = await copier.copyUp(path);
    return openSync(up.real, clean);
  }

  async create(path: string, mode: number, flags: number, c: Caller): Promise<number> {
    this.writable('create', path);
    const { parent, name } = splitParent(path, 'create', 'EISDIR');
    const existing = this.resolver.lookup(this.resolver.dir(parent, 'create'), name);
    if (existing.kind === 'found') {
      if (flags & fsc.O_EXCL) throw new FsError('EEXIST', 'create', path);
      return this.open(path, flags, c);
    }
    const { target, owner } = this.prepareNew(path, 'create', mode, false, c);
    const openFlags = (flags & ~fsc.O_TRUNC) | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
    return placeNew(this.work!, target, false, (p) => {
      const fd = openSync(p, openFlags, 0o600);
      try {
        fchownSync(fd, owner.uid, owner.gid);
        fchmodSync(fd, owner.mode);
      } catch (err) {
        closeSync(fd);
        unlinkSync(p);
        throw err;
      }
      return fd;
    });
  }

  release(fd: number): void {
    closeSync(fd);
  }

  // ---- changing metadata (copy-up first) ----

  async truncate(path: string, size: number, _c: Caller): Promise<void> {
    const copier = this.writable('truncate', path);
    const e = this.resolver.found(path, 'truncate');
    if (e.dirs.length > 0) throw new FsError('EISDIR', 'truncate', path);
    if (!isReg(e.stat)) throw new FsError('EINVAL', 'truncate', path);
    const up = await copier.copyUp(path);
    const fd = openSync(up.real, fsc.O_WRONLY | fsc.O_NOFOLLOW);
    try {
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
  }

  async chmod(path: string, mode: number, _c: Caller): Promise<void> {
    const up = await this.copyUpFor('chmod', path);
    // chmod follows symlinks and there is no lchmod on Linux: never touch one.
    if (isSymlink(up.stat)) throw new FsError('EOPNOTSUPP', 'chmod', path);
    chmodSync(up.real, mode & 0o7777);
  }

  async chown(path: string, uid: number, gid: number, _c: Caller): Promise<void> {
    const up = await this.copyUpFor('chown', path);
    lchownSync(up.real, uid === NO_ID ? -1 : uid, gid === NO_ID ? -1 : gid);
  }

  async utimens(path: string, atime: [number, number], mtime: [number, number], _c: Caller): Promise<void> {
    const up = await this.copyUpFor('utimensat', path);
    sysUtimens(up.real, atime[0], atime[1], mtime[0], mtime[1]);
  }

  async setxattr(path: string, name: string, value: Buffer, flags: number, _c: Caller): Promise<void> {
    const copier = this.writable('setxattr', path);
    const e = this.resolver.found(path, 'setxattr');
    if (isReservedXattr(name)) throw new FsError('EPERM', 'setxattr', path, `${name} belongs to layerfs`);
    if (!userXattrAllowed(e.stat, name)) throw new FsError('EPERM', 'setxattr', path);
    const up = await copier.copyUp(path);
    sysSetxattr(up.real, toLayerName(name), value, flags);
  }

  async removexattr(path: string, name: string, _c: Caller): Promise<void> {
    this.writable('removexattr', path);
    const e = this.resolver.found(path, 'removexattr');
    if (!userXattrAllowed(e.stat, name)) throw new FsError('EPERM', 'removexattr', path);
    // Like the kernel: removing an xattr that is not there copies nothing up.
    if (isReservedXattr(name) || sysGetxattr(e.real, toLayerName(name)) === null) {
      throw new FsError('ENODATA', 'removexattr', path);
    }
    const up = await this.copyUpFor('removexattr', path);
    sysRemovexattr(up.real, toLayerName(name));
  }

  // ---- new entries ----

  async mknod(path: string, mode: number, dev: number, c: Caller): Promise<void> {
    const { target, owner } = this.prepareNew(path, 'mknod', mode, false, c);
    placeNew(this.work!, target, false, (p) => {
      mknodRaw(p, (mode & S_IFMT) | owner.mode, dev);
      lchownSync(p, owner.uid, owner.gid);
      chmodSync(p, owner.mode); // mknod applied the process umask
    });
  }

  async mkdir(path: string, mode: number, c: Caller): Promise<void> {
    const { target, owner } = this.prepareNew(path, 'mkdir', mode, true, c);
    try {
      placeNew(this.work!, target, true, (p) => {
        mkdirSync(p, { mode: 0o700 });
        lchownSync(p, owner.uid, owner.gid);
        chmodSync(p, owner.mode);
      });
    } finally {
      this.resolver.invalidate(path, true);
    }
  }

  async symlink(linkTarget: string, path: string, c: Caller): Promise<void> {
    const { target, owner } = this.prepareNew(path, 'symlink', 0o777, false, c);
    placeNew(this.work!, target, false, (p) => {
      symlinkSync(linkTarget, p);
      lchownSync(p, owner.uid, owner.gid);
    });
  }

  async link(existing: string, newPath: string, c: Caller): Promise<void> {
    const copier = this.writable('link', newPath);
    const src = this.resolver.found(existing, 'link');
    this.prepareNew(newPath, 'link', 0, false, c, true); // fail early, before copying data
    if (src.dirs.length > 0) throw new FsError('EPERM', 'link', existing);
    const up = await copier.copyUp(existing);
    const { target } = this.prepareNew(newPath, 'link', 0, false, c);
    placeNew(this.work!, target, false, (p) => linkSync(up.real, p));
  }

  // ---- removing and moving ----

  async unlink(path: string, _c: Caller): Promise<void> {
    this.writable('unlink', path);
    const { parent, name } = splitParent(path, 'unlink', 'EISDIR');
    const dir = this.resolver.dir(parent, 'unlink');
    const e = this.resolver.lookup(dir, name);
    if (e.kind !== 'found') throw new FsError('ENOENT', 'unlink', path);
    if (e.dirs.length > 0) throw new FsError('EISDIR', 'unlink', path);
    try {
      this.remove(parent, dir, name, e);
    } finally {
      this.resolver.invalidate(path, false);
    }
  }

  async rmdir(path: string, _c: Caller): Promise<void> {
    this.writable('rmdir', path);
    const { parent, name } = splitParent(path, 'rmdir', 'EBUSY');
    const dir = this.resolver.dir(parent, 'rmdir');
    const e = this.resolver.lookup(dir, name);
    if (e.kind !== 'found') throw new FsError('ENOENT', 'rmdir', path);
    if (e.dirs.length === 0) throw new FsError('ENOTDIR', 'rmdir', path);
    if (mergeDir(e.dirs).names.length > 0) throw new FsError('ENOTEMPTY', 'rmdir', path);
    try {
      this.remove(parent, dir, name, e);
    } finally {
      this.resolver.invalidate(path, true);
    }
  }

  async rename(from: string, to: string, _c: Caller): Promise<void> {
    this.writable('rename', from);
    // A file from a lower layer is copied up first; the state is then checked afresh.
    for (;;) {
      let done: boolean;
      try {
        done = this.renameNow(from, to);
      } finally {
        this.resolver.invalidate(from, true);
        this.resolver.invalidate(to, true);
      }
      if (done) return;
      await this.copier!.copyUp(from);
    }
  }

  // ---- internals ----

  private isUpper(e: Found): boolean {
    return this.resolver.layers[e.layer]!.upper;
  }

  private writable(syscall: string, path: string): CopyUp {
    if (this.copier === undefined) throw new FsError('EROFS', syscall, path);
    return this.copier;
  }

  private async copyUpFor(syscall: string, path: string): Promise<Found> {
    const copier = this.writable(syscall, path);
    this.resolver.found(path, syscall);
    return copier.copyUp(path);
  }

  /**
   * Checks that `path` can be created and gives its parent an upper copy.
   * With `checkOnly`, nothing is changed.
   */
  private prepareNew(
    path: string, syscall: string, mode: number, isDirectory: boolean, c: Caller, checkOnly = false,
  ): { target: NewEntryTarget; owner: ReturnType<typeof newOwner> } {
    const copier = this.writable(syscall, path);
    const { parent, name } = splitParent(path, syscall, 'EEXIST');
    if (isWhiteoutName(name)) throw new FsError('EINVAL', syscall, path, `names starting '${WHITEOUT_PREFIX}' are reserved`);
    const dir = this.resolver.dir(parent, syscall);
    const e = this.resolver.lookup(dir, name);
    if (e.kind === 'found') throw new FsError('EEXIST', syscall, path);
    const owner = newOwner(c, dir.stat, mode, isDirectory);
    if (checkOnly) return { target: { upperParent: '', name, whiteout: null }, owner };
    const upperParent = copier.ensureUpperDir(parent);
    const upperWhiteout = e.kind === 'whiteout' && this.resolver.layers[e.layer]!.upper ? e.format : null;
    return { target: { upperParent, name, whiteout: upperWhiteout }, owner };
  }

  /** Removes a checked entry, leaving a whiteout when a lower layer still holds the name. */
  private remove(parentPath: string, parent: Found, name: string, e: Found): void {
    const whiteout = this.resolver.lowerPositive(parent, name);
    const upperParent = this.copier!.ensureUpperDir(parentPath);
    const isDirectory = e.dirs.length > 0;
    if (this.isUpper(e)) {
      removeUpper(this.work!, e.real, isDirectory, whiteout);
    } else {
      whiteoutAbsent(realJoin(upperParent, name));
    }
  }

  /** Renames when the source is in the upper layer (or fails); false when it must be copied up first. */
  private renameNow(from: string, to: string): boolean {
    const f = splitParent(from, 'rename', 'EBUSY');
    const t = splitParent(to, 'rename', 'EBUSY');
    if (isWhiteoutName(t.name)) throw new FsError('EINVAL', 'rename', to, `names starting '${WHITEOUT_PREFIX}' are reserved`);
    const fromDir = this.resolver.dir(f.parent, 'rename');
    const toDir = this.resolver.dir(t.parent, 'rename');
    const src = this.resolver.lookup(fromDir, f.name);
    if (src.kind !== 'found') throw new FsError('ENOENT', 'rename', from);
    const dst = this.resolver.lookup(toDir, t.name);
    const nFrom = normalize(from);
    const nTo = normalize(to);
    if (nFrom === nTo) return true;
    const srcIsDir = src.dirs.length > 0;
    if (srcIsDir && isWithin(nTo, nFrom)) throw new FsError('EINVAL', 'rename', from);
    if (isWithin(nFrom, nTo)) throw new FsError('ENOTEMPTY', 'rename', to); // onto its own ancestor
    if (dst.kind === 'found') {
      const dstIsDir = dst.dirs.length > 0;
      if (srcIsDir && !dstIsDir) throw new FsError('ENOTDIR', 'rename', to);
      if (!srcIsDir && dstIsDir) throw new FsError('EISDIR', 'rename', to);
    }
    const movable = (e: Found) => e.dirs.every((d) => this.resolver.layers[d.layer]!.upper);
    // redirect_dir=off: a directory with lower copies cannot move.
    if (srcIsDir && !movable(src)) throw new FsError('EXDEV', 'rename', from);
    // A target with lower copies is checked here; an upper-only one by rename(2) itself, as the kernel does.
    if (dst.kind === 'found' && !movable(dst) && mergeDir(dst.dirs).names.length > 0) {
      throw new FsError('ENOTEMPTY', 'rename', to);
    }
    if (!this.isUpper(src)) return false;

    const copier = this.copier!;
    const work = this.work!;
    const upperToParent = copier.ensureUpperDir(t.parent);
    const target = realJoin(upperToParent, t.name);
    const whiteoutSource = this.resolver.lowerPositive(fromDir, f.name);
    if (srcIsDir && !movable(toDir) && !isOpaqueDir(src.real)) {
      // Like the kernel: a directory moved into a merged directory is made opaque, so it can
      // never merge with lower copies there. It merges with nothing now, so this changes nothing yet.
      setOpaque(src.real);
    }
    if (dst.kind === 'found' && dst.dirs.length > 0 && !movable(dst) && this.isUpper(dst)) {
      clearUpperDir(dst.real, true, work);
    }
    if (dst.kind === 'whiteout' && this.resolver.layers[dst.layer]!.upper) {
      if (dst.format === 'file') {
        renameUpper(src.real, target, whiteoutSource);
        unlinkSync(realJoin(upperToParent, WHITEOUT_PREFIX + t.name));
        return true;
      }
      if (srcIsDir) {
        // A directory cannot replace the whiteout; swap them, and the whiteout lands on the source.
        renameat2(src.real, target, RENAME_EXCHANGE);
        if (!whiteoutSource) unlinkSync(src.real);
        return true;
      }
    }
    renameUpper(src.real, target, whiteoutSource);
    return true;
  }
}

/**
 * The VFS allows user.* xattrs only on regular files and directories and
 * refuses others before a filesystem (or a copy-up) is involved.
 */
function userXattrAllowed(st: StatBuf, name: string): boolean {
  return !name.startsWith('user.') || isReg(st) || isDir(st);
}

/** Lower files are opened without updating their atime, as the kernel does. */
function openLower(real: string, flags: number): number {
  try {
    return openSync(real, flags | fsc.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return openSync(real, flags);
  }
}

function validateLayers(opts: OverlayOptions): Layer[] {
  const bad = (path: string, reason: string) =>
    new LayerfsError('BAD_MOUNT_OPTIONS', `${path}: ${reason}`, { path, reason });
  const dirOf = (path: string, what: string): string => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      throw bad(path, `${what} does not exist (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!statSync(real).isDirectory()) throw bad(path, `${what} is not a directory`);
    return real;
  };
  if (opts.lowerdirs.length === 0) throw bad('lowerdir', 'at least one lower directory is needed');
  const layers: Layer[] = [];
  if (opts.upperdir !== undefined) {
    if (opts.workdir === undefined) throw bad(opts.upperdir, 'upperdir needs a workdir');
    const upper = dirOf(opts.upperdir, 'upperdir');
    const work = dirOf(opts.workdir, 'workdir');
    if (statSync(upper).dev !== statSync(work).dev) throw bad(opts.workdir, 'workdir must be on the same filesystem as upperdir');
    if (isWithin(work, upper) || isWithin(upper, work)) throw bad(opts.workdir, 'workdir and upperdir must be separate trees');
    layers.push({ root: upper, upper: true });
  } else if (opts.workdir !== undefined) {
    throw bad(opts.workdir, 'workdir without upperdir');
  }
  for (const lower of opts.lowerdirs) layers.push({ root: dirOf(lower, 'lowerdir'), upper: false });
  return layers;
}
