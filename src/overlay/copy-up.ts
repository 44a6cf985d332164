/**
 * Copy-up: giving a lower entry an upper copy before it changes. Parents come
 * first (directories only, no contents). Every copy is built in the work
 * directory with data, owner, mode, xattrs and times, then renamed into the
 * upper layer, so a crash never exposes a half copy. The upper parent's times
 * are restored afterwards, as the kernel does. Copy-ups of one path share a
 * single promise, so concurrent writers never race.
 * With metacopy, a metadata change copies up a regular file without its data
 * (a sparse file marked `trusted.overlay.metacopy`); the first data change
 * completes it: a full copy built in the work directory, with the metacopy
 * file's metadata, renamed over it.
 * Each copy records its lower origin as the kernel does (origin.ts), except
 * a lower hard link's: the copy breaks it apart and keeps its own number.
 */
import { closeSync, constants as fsc, ftruncateSync } from 'node:fs';
import { FsError } from '../errors.js';
import { copyData, copyDataAsync, fileType, isReg, isSymlink, RENAME_NOREPLACE, S_IFDIR, ST, type StatBuf } from '../sys.js';
import {
  chmodSync, getxattr, lchownSync, listxattr, lstat, mkdirSync, mknodRaw, openSync, readlinkSync, renameat2, setxattr, symlinkSync,
  utimens,
} from './long-path.js';
import { realJoin, splitParent } from './paths.js';
import type { Found, Resolver } from './resolve.js';
import type { WorkDir } from './work-dir.js';
import { METACOPY_XATTR } from './metacopy.js';
import { markImpure, ORIGIN_XATTR, setOrigin, type Origins } from './origin.js';
import { isPrivateXattr } from './xattr-names.js';

const CAPABILITY = 'security.capability';
/** Files up to this size are copied on the JS thread: a thread-pool round trip costs more. */
const SYNC_COPY_MAX = 256 * 1024;

/** Runs `change` on entries of the upper directory `dir` and then puts its atime/mtime back. */
export function keepingTimes<T>(dir: string, change: () => T): T {
  const before = lstat(dir);
  const result = change();
  if (before !== null) {
    utimens(dir, before[ST.atimeSec]!, before[ST.atimeNsec]!, before[ST.mtimeSec]!, before[ST.mtimeNsec]!);
  }
  return result;
}

/**
 * Gives `dst` the owner, mode, xattrs and times of `src`. Order matters: chown
 * clears setuid bits and security.capability, so mode comes after it and the
 * capability last; times go last of all because every other step touches ctime only.
 */
export function copyMetadata(src: string, st: StatBuf, dst: string): void {
  lchownSync(dst, st[ST.uid]!, st[ST.gid]!);
  if (!isSymlink(st)) chmodSync(dst, st[ST.mode]! & 0o7777);
  const names = listxattr(src).filter((n) => !isPrivateXattr(n));
  names.sort((a, b) => Number(a === CAPABILITY) - Number(b === CAPABILITY));
  for (const name of names) {
    const value = getxattr(src, name);
    if (value === null) continue;
    try {
      setxattr(dst, name, value);
    } catch (err) {
      // An upper filesystem without this namespace: the kernel also copies what it can.
      if ((err as FsError).code !== 'EOPNOTSUPP') throw err;
    }
  }
  utimens(dst, st[ST.atimeSec]!, st[ST.atimeNsec]!, st[ST.mtimeSec]!, st[ST.mtimeNsec]!);
}

type Depth = 'full' | 'meta';

export class CopyUp {
  private readonly inflight = new Map<string, Promise<Found>>();

  constructor(
    private readonly resolver: Resolver,
    private readonly work: WorkDir,
    private readonly origins: Origins,
    /** Told about every path that gained an upper copy (for caches). */
    private readonly changed: (path: string) => void = () => {},
  ) {}

  private isUpper(e: Found): boolean {
    return this.resolver.layers[e.layer]!.upper;
  }

  /** Makes sure the directory `path` has an upper copy; returns its real path. Synchronous: no data moves. */
  ensureUpperDir(path: string): string {
    const e = this.resolver.dir(path, 'copyup');
    if (this.isUpper(e)) return e.real;
    const { parent, name } = splitParent(path, 'copyup');
    const upperParent = this.ensureUpperDir(parent);
    const tmp = this.work.tempPath();
    try {
      mkdirSync(tmp, 0o700);
      copyMetadata(e.real, e.stat, tmp);
      setOrigin(tmp, this.origins.encode(e.real, e.stat));
      markImpure(upperParent);
      const target = realJoin(upperParent, name);
      keepingTimes(upperParent, () => renameat2(tmp, target, RENAME_NOREPLACE));
      this.changed(path);
      return target;
    } catch (err) {
      this.work.discard(tmp);
      throw err;
    }
  }

  /**
   * Makes sure `path` has an upper copy (a file's data included); returns the
   * upper entry. `e` is the entry as the caller just resolved it, if at hand.
   */
  async copyUp(path: string, e?: Found): Promise<Found> {
    return this.copy(path, 'full', e);
  }

  /**
   * Makes sure `path` has an upper copy for a metadata change: with metacopy
   * on, a regular file's data stays below. Without it, the same as copyUp.
   */
  async copyUpMeta(path: string, e?: Found): Promise<Found> {
    return this.copy(path, this.resolver.metacopy ? 'meta' : 'full', e);
  }

  private async copy(path: string, depth: Depth, given?: Found): Promise<Found> {
    const e = given ?? this.resolver.found(path, 'copyup');
    if (this.isUpper(e) && (e.data === undefined || depth === 'meta')) return e;
    if (e.dirs.length > 0) {
      this.ensureUpperDir(path);
      return this.resolver.found(path, 'copyup');
    }
    // One copy per path at a time; a full copy asked for during a metadata one follows it.
    let current: Found | undefined = e;
    for (;;) {
      const pending = this.inflight.get(path);
      if (pending === undefined) break;
      await pending.catch(() => {});
      current = undefined;
    }
    const done = this.copyNonDir(path, depth, current).finally(() => this.inflight.delete(path));
    this.inflight.set(path, done);
    return done;
  }

  private async copyNonDir(path: string, depth: Depth, first?: Found): Promise<Found> {
    const { parent, name } = splitParent(path, 'copyup');
    for (let current = first; ; current = undefined) {
      const e = current ?? this.resolver.found(path, 'copyup');
      if (e.dirs.length > 0) {
        this.ensureUpperDir(path);
        return this.resolver.found(path, 'copyup');
      }
      if (this.isUpper(e) && (e.data === undefined || depth === 'meta')) return e;
      const tmp = this.work.tempPath();
      try {
        const completing = this.isUpper(e);
        const meta = depth === 'meta' && isReg(e.stat);
        const copying = meta ? buildMetacopy(tmp, e.stat[ST.size]!) : this.build(e, tmp);
        if (copying !== undefined) await copying;
        copyMetadata(e.real, e.stat, tmp);
        if (completing) {
          // The metacopy file's origin stays with the full copy that replaces it.
          const origin = getxattr(e.real, ORIGIN_XATTR);
          if (origin !== null) setOrigin(tmp, origin);
        } else if (e.stat[ST.nlink]! < 2) {
          setOrigin(tmp, this.origins.encode(e.real, e.stat));
        }
        if (meta) setxattr(tmp, METACOPY_XATTR, Buffer.alloc(0));
        // The layers may have changed while the data was copied: install only
        // if the path still shows the entry that was copied.
        if (copying !== undefined) {
          const now = this.resolver.resolve(path, 'copyup');
          if (now.kind !== 'found' || now.real !== e.real || now.data?.real !== e.data?.real) {
            this.work.discard(tmp);
            continue;
          }
        }
        const upperParent = this.ensureUpperDir(parent);
        if (!completing) markImpure(upperParent);
        // Completing a metacopy file replaces it; anything else must not be there yet.
        keepingTimes(upperParent, () => renameat2(tmp, realJoin(upperParent, name), completing ? 0 : RENAME_NOREPLACE));
        this.changed(path);
        return this.resolver.found(path, 'copyup');
      } catch (err) {
        this.work.discard(tmp);
        throw err;
      }
    }
  }

  /**
   * Builds the copy's content at `tmp`. Only copying a large file's data is
   * async (in the thread pool), so other requests go on meanwhile.
   */
  private build(e: Found, tmp: string): Promise<void> | void {
    const st = e.stat;
    if (isReg(st)) {
      return copyRegular(e.data?.real ?? e.real, tmp, st[ST.size]!);
    } else if (isSymlink(st)) {
      symlinkSync(readlinkSync(e.real, 'buffer'), tmp);
    } else if (fileType(st[ST.mode]!) !== S_IFDIR) {
      // FIFOs, sockets and device nodes: the node itself is the content.
      mknodRaw(tmp, st[ST.mode]!, st[ST.rdev]!);
    } else {
      throw new FsError('EISDIR', 'copyup', e.real);
    }
  }
}

/**
 * A new file at `tmp` with the data of `from` (`size` bytes). Files up to
 * SYNC_COPY_MAX are copied on the JS thread: a thread-pool round trip costs
 * more than the copy. The target is created, never truncated (see copyData).
 */
function copyRegular(from: string, tmp: string, size: number): Promise<void> | void {
  const src = openLower(from, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  let dst: number;
  try {
    dst = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (err) {
    closeSync(src);
    throw err;
  }
  const close = () => {
    closeSync(src);
    closeSync(dst);
  };
  if (size > SYNC_COPY_MAX) return copyDataAsync(src, dst, size, from).finally(close);
  try {
    copyData(src, dst, size, from);
  } finally {
    close();
  }
}

/** Lower files are opened without updating their atime, as the kernel does (O_NOATIME needs ownership or CAP_FOWNER). */
export function openLower(real: string, flags: number): number {
  try {
    return openSync(real, flags | fsc.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    return openSync(real, flags);
  }
}

/** An empty regular file with the data's size and no data blocks: the kernel's metacopy file. */
function buildMetacopy(tmp: string, size: number): void {
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}
