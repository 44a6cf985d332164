/**
 * The overlay: kernel overlayfs semantics (redirect_dir=off, index=off,
 * xino=off, metacopy off or on) over read-only lower directories and an optional
 * writable upper directory, as plain calls on paths. With metacopy, metadata
 * changes copy a regular file up without its data (see metacopy.ts). Knows nothing of FUSE:
 * every method returns a value or throws FsError (or a Node fs errno error).
 * Metadata calls are synchronous on purpose; calls that may copy data are async.
 * Permission checks are the kernel's (default_permissions), not ours.
 */
import { accessSync, closeSync, constants as fsc, fchmodSync, fchownSync, ftruncateSync, realpathSync, statfsSync } from 'node:fs';
import { FsError } from '../errors.js';
import { fstat, isDir, isReg, isSymlink, S_IFMT, ST, type StatBuf } from '../sys.js';
import { newOwner, type Caller } from './caller.js';
import { CopyUp, openLower } from './copy-up.js';
import { DirLock } from './dir-lock.js';
import { layersFromOptions, type OverlayOptions } from './layers.js';
import {
  chmodSync, getxattr as sysGetxattr, lchownSync, linkSync, listxattr as sysListxattr, lstat, mkdirSync, mknodRaw, openSync, readlinkSync,
  removexattr as sysRemovexattr, setxattr as sysSetxattr, symlinkSync, unlinkSync, utimens as sysUtimens,
} from './long-path.js';
import { mergeDir } from './merge-dir.js';
import { isImpure, Origins } from './origin.js';
import { realJoin, splitParent } from './paths.js';
import { placeNew, removeUpper, whiteoutAbsent, type NewEntryTarget } from './place.js';
import { renameNow } from './rename.js';
import { Resolver, type Found } from './resolve.js';
import { isWhiteoutName, WHITEOUT_PREFIX } from './whiteout.js';
import { WorkDir } from './work-dir.js';
import { isReservedXattr, toLayerName, toOverlayName } from './xattr-names.js';

export type { Caller } from './caller.js';

export type { OverlayOptions } from './layers.js';

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
  /** Copy-up origins: the inode numbers upper entries show (undefined without an upper layer). */
  private readonly origins: Origins | undefined;
  private readonly lock: DirLock | undefined;
  /** Read fds opened on a metacopy file's data, by the path they were opened at. */
  private readonly dataFds = new Map<number, string>();
  /** Read fds opened on a lower layer's file: never to be changed through. */
  private readonly lowerFds = new Set<number>();

  constructor(opts: OverlayOptions) {
    const layers = layersFromOptions(opts);
    this.resolver = new Resolver(layers, opts.metacopy === true);
    if (opts.upperdir !== undefined) {
      const upper = layers[0]!.root;
      const workdir = realpathSync(opts.workdir!);
      // Before the work directory is cleared: that would destroy another mount's copy-ups in progress.
      this.lock = DirLock.acquire([{ path: workdir, what: 'workdir' }, { path: upper, what: 'upperdir' }]);
      try {
        this.origins = new Origins(layers);
        // An upper layer that cannot be written (a read-only filesystem) is read like a lower one:
        // the overlay is read-only and every change is EROFS, as without upperdir.
        if (canWrite(upper) && canWrite(workdir)) {
          this.work = new WorkDir(workdir);
          this.copier = new CopyUp(this.resolver, this.work, this.origins, (path) => this.resolver.invalidate(path, false));
        }
      } catch (err) {
        this.lock.release();
        throw err;
      }
    }
    this.readonly = this.copier === undefined;
  }

  /** Releases the upper and work directories for another overlay, and the fds origins were decoded with. Call it once unmounted; safe to call twice. */
  close(): void {
    this.origins?.close();
    this.lock?.release();
  }

  // ---- reading ----

  getattr(path: string): StatBuf {
    return this.resolver.found(path, 'getattr').stat;
  }

  /**
   * getattr with the file's identity: an upper file is `shared` by its device
   * and inode (it may have, or have had, other names: hard links). Lower hard links are not: as in
   * the kernel (index=off), a copy-up breaks them apart. An upper entry shows
   * the inode number the kernel shows for it: its copy-up origin's, or its
   * merged lower directory's (origin.ts).
   */
  lookup(path: string): { stat: StatBuf; shared?: string } {
    const e = this.resolver.found(path, 'lookup');
    let st = e.stat;
    if (!this.isUpper(e)) return { stat: st };
    const key = `${st[ST.dev]}:${st[ST.ino]}`;
    // The root shows the upper root's number, as on the kernel.
    const ino = e.real === this.resolver.rootEntry.real ? undefined : this.origins!.shownIno(e);
    if (ino !== undefined) {
      st = st.slice();
      st[ST.ino] = ino;
    }
    return e.dirs.length > 0 ? { stat: st } : { stat: st, shared: key };
  }

  /**
   * The merged listing, each entry with the inode number lookup shows. As in
   * the kernel, an upper file's origin is looked for only in a directory
   * marked impure (one copy-up or move-in since it was made): a listing of
   * plain upper files costs no xattr reads.
   */
  readdir(path: string): { names: string[]; stats: StatBuf[] } {
    const e = this.resolver.dir(path, 'readdir');
    const listing = mergeDir(e.dirs);
    if (!this.isUpper(e)) return listing;
    const impure = isImpure(e.real);
    const upper = e.dirs[0]!.layer;
    listing.stats.forEach((st, i) => {
      if (listing.layers[i] !== upper) return;
      const below = listing.below[i];
      const ino = below !== undefined
        ? (this.origins!.sameFs ? lstat(below)?.[ST.ino] : undefined)
        : impure && !isDir(st) ? this.origins!.originIno(realJoin(e.real, listing.names[i]!), st) : undefined;
      if (ino !== undefined) st[ST.ino] = ino;
    });
    return { names: listing.names, stats: listing.stats };
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
    if (!writes && e.data !== undefined) {
      const fd = openLower(e.data.real, clean);
      this.dataFds.set(fd, path);
      this.lowerFds.add(fd);
      return fd;
    }
    if (!writes) {
      if (this.isUpper(e)) return openSync(e.real, clean);
      const fd = openLower(e.real, clean);
      this.lowerFds.add(fd);
      return fd;
    }
    const copier = this.writable('open', path);
    if (e.dirs.length > 0) throw new FsError('EISDIR', 'open', path);
    const up = await copier.copyUp(path, e);
    return openSync(up.real, clean);
  }

  async create(path: string, mode: number, flags: number, c: Caller): Promise<number> {
    this.writable('create', path);
    splitParent(path, 'create', 'EISDIR');
    let prepared: ReturnType<Overlay['prepareNew']>;
    try {
      prepared = this.prepareNew(path, 'create', mode, false, c);
    } catch (err) {
      // Rare: the kernel looks a name up before it asks to create it.
      if ((err as FsError).code !== 'EEXIST' || flags & fsc.O_EXCL) throw err;
      return this.open(path, flags, c);
    }
    const { target, owner } = prepared;
    const openFlags = (flags & ~fsc.O_TRUNC) | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
    return this.place(path, target, false, (p) => {
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

  /** The stat of an open file; `path` is its current name. */
  fgetattr(path: string, fd: number): StatBuf {
    // A metacopy file's data fd would show the lower file's metadata.
    if (!this.dataFds.has(fd)) return fstat(fd);
    const e = this.resolver.resolve(path);
    return e.kind === 'found' ? e.stat : fstat(fd);
  }

  /** Whether `fd` (from open or create) is a file in the upper layer. */
  onUpper(fd: number): boolean {
    return !this.lowerFds.has(fd);
  }

  release(fd: number): void {
    this.dataFds.delete(fd);
    this.lowerFds.delete(fd);
    closeSync(fd);
  }

  // ---- changing metadata (copy-up first) ----

  async truncate(path: string, size: number, _c: Caller): Promise<void> {
    const copier = this.writable('truncate', path);
    const e = this.resolver.found(path, 'truncate');
    if (e.dirs.length > 0) throw new FsError('EISDIR', 'truncate', path);
    if (!isReg(e.stat)) throw new FsError('EINVAL', 'truncate', path);
    const up = await copier.copyUp(path, e);
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
    const up = await copier.copyUpMeta(path, e);
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
    this.place(path, target, false, (p) => {
      mknodRaw(p, (mode & S_IFMT) | owner.mode, dev);
      lchownSync(p, owner.uid, owner.gid);
      chmodSync(p, owner.mode); // mknod applied the process umask
    });
  }

  async mkdir(path: string, mode: number, c: Caller): Promise<void> {
    const { target, owner } = this.prepareNew(path, 'mkdir', mode, true, c);
    this.place(path, target, true, (p) => {
      mkdirSync(p, 0o700);
      lchownSync(p, owner.uid, owner.gid);
      chmodSync(p, owner.mode);
    });
  }

  async symlink(linkTarget: string, path: string, c: Caller): Promise<void> {
    const { target, owner } = this.prepareNew(path, 'symlink', 0o777, false, c);
    this.place(path, target, false, (p) => {
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
    this.place(newPath, target, false, (p) => linkSync(up.real, p));
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
    // Only a directory has a subtree to forget (a file cannot replace a directory).
    const src = this.resolver.resolve(from, 'rename');
    const subtree = src.kind !== 'found' || src.dirs.length > 0;
    // A file from a lower layer is copied up first; the state is then checked afresh.
    for (;;) {
      let done: boolean;
      try {
        done = renameNow({ resolver: this.resolver, copier: this.copier!, work: this.work! }, from, to);
      } finally {
        this.resolver.invalidate(from, subtree);
        this.resolver.invalidate(to, subtree);
      }
      if (done) return;
      await this.copier!.copyUp(from);
    }
  }

  // ---- internals ----

  private isUpper(e: Found): boolean {
    return this.resolver.layers[e.layer]!.upper;
  }

  /**
   * Puts a new entry at `path` (see placeNew) and tells the resolver. Nothing
   * below a new name can be cached: the name did not resolve to a directory
   * before (rmdir and rename forget whole subtrees).
   */
  private place<T>(path: string, target: NewEntryTarget, isDirectory: boolean, build: (p: string) => T): T {
    try {
      return placeNew(this.work!, target, isDirectory, build);
    } finally {
      this.resolver.invalidate(path, false);
    }
  }

  private writable(syscall: string, path: string): CopyUp {
    if (this.copier === undefined) throw new FsError('EROFS', syscall, path);
    return this.copier;
  }

  private async copyUpFor(syscall: string, path: string): Promise<Found> {
    const copier = this.writable(syscall, path);
    return copier.copyUpMeta(path, this.resolver.found(path, syscall));
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
}

/** Whether this process can change `dir`'s entries (access(2): EROFS on a read-only mount). */
function canWrite(dir: string): boolean {
  try {
    accessSync(dir, fsc.W_OK);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return false;
    throw err;
  }
}

/**
 * The VFS allows user.* xattrs only on regular files and directories and
 * refuses others before a filesystem (or a copy-up) is involved.
 */
function userXattrAllowed(st: StatBuf, name: string): boolean {
  return !name.startsWith('user.') || isReg(st) || isDir(st);
}
