/**
 * Everything below Node's fs: the native helpers (native/sys.c) and the
 * outside programs layerfs runs. Nothing else in src/ loads native code or
 * spawns processes. Each call returns a value or throws FsError.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { check, FsError } from './errors.js';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface NativeSys {
  lstat(path: string, out: Float64Array): number;
  fstat(fd: number, out: Float64Array): number;
  mknod(path: string, mode: number, major: number, minor: number): number;
  mknodRaw(path: string, mode: number, dev: number): number;
  lgetxattr(path: string, name: string, buf: Buffer | null): number;
  lsetxattr(path: string, name: string, value: Buffer, flags: number): number;
  llistxattr(path: string, buf: Buffer | null): number;
  lremovexattr(path: string, name: string): number;
  renameat2(from: string, to: string, flags: number): number;
  utimens(path: string, asec: number, ansec: number, msec: number, mnsec: number): number;
  futimens(fd: number, asec: number, ansec: number, msec: number, mnsec: number): number;
  copyData(inFd: number, outFd: number, len: number): number;
  copyDataAsync(inFd: number, outFd: number, len: number, done: (res: number) => void): number;
  flock(fd: number, op: number): number;
  nameToHandle(path: string, out: Buffer): number;
  openByHandle(mountFd: number, handle: Buffer, out: Float64Array): number;
  fsUuid(path: string, out: Buffer): number;
  cgroupDeviceFilter(dir: string, rules: Int32Array): number;
}

export const native: NativeSys = require(join(root, 'native/build/Release/layerfs_sys.node'));

/**
 * A stat in the layout shared with the patched FUSE binding: 16 doubles, exact
 * to the nanosecond and to 2^53 for inode numbers and sizes.
 */
export const ST = {
  mode: 0, uid: 1, gid: 2, size: 3, dev: 4, nlink: 5, ino: 6, rdev: 7, blksize: 8, blocks: 9,
  atimeSec: 10, atimeNsec: 11, mtimeSec: 12, mtimeNsec: 13, ctimeSec: 14, ctimeNsec: 15,
} as const;
export type StatBuf = Float64Array;
export const newStat = (): StatBuf => new Float64Array(16);

/** lstat into `out`; returns false when the path does not exist (ENOENT/ENOTDIR), throws otherwise. */
export function lstatInto(path: string, out: StatBuf): boolean {
  const r = native.lstat(path, out);
  if (r === 0) return true;
  if (r === -2 || r === -20) return false; // ENOENT, ENOTDIR
  throw FsError.fromErrno(r, 'lstat', path);
}

export function lstat(path: string): StatBuf | null {
  const st = newStat();
  return lstatInto(path, st) ? st : null;
}

export function fstat(fd: number, out: StatBuf = newStat()): StatBuf {
  check(native.fstat(fd, out), 'fstat');
  return out;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const fileType = (mode: number) => mode & S_IFMT;
export const isDir = (st: StatBuf) => fileType(st[ST.mode]!) === S_IFDIR;
export const isReg = (st: StatBuf) => fileType(st[ST.mode]!) === S_IFREG;
export const isSymlink = (st: StatBuf) => fileType(st[ST.mode]!) === S_IFLNK;
/** A kernel-format whiteout: a character device 0:0. */
export const isWhiteoutStat = (st: StatBuf) => fileType(st[ST.mode]!) === S_IFCHR && st[ST.rdev] === 0;

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(native.mknod(path, mode, major, minor), 'mknod', path);
}
/** mknod with the raw dev_t the kernel sent through FUSE. */
export function mknodRaw(path: string, mode: number, dev: number): void {
  check(native.mknodRaw(path, mode, dev), 'mknod', path);
}
/** Writes a kernel-format whiteout (char device 0:0). */
export function mkWhiteout(path: string): void {
  mknod(path, S_IFCHR | 0o000, 0, 0);
}

/** Most values (overlay markers, origins, capabilities) fit here: one syscall instead of a size query and a read. */
const xattrScratch = Buffer.alloc(256);

/** The value of an xattr, or null when it is not set (ENODATA). */
export function getxattr(path: string, name: string): Buffer | null {
  const first = native.lgetxattr(path, name, xattrScratch);
  if (first === -61) return null; // ENODATA
  if (first >= 0) return Buffer.from(xattrScratch.subarray(0, first));
  if (first !== -34) check(first, 'lgetxattr', path); // ERANGE: larger, asked for below
  for (;;) {
    const size = native.lgetxattr(path, name, null);
    if (size === -61) return null; // ENODATA
    check(size, 'lgetxattr', path);
    const buf = Buffer.alloc(size);
    const got = native.lgetxattr(path, name, buf);
    if (got === -34) continue; // ERANGE: it grew in between
    if (got === -61) return null;
    check(got, 'lgetxattr', path);
    return buf.subarray(0, got);
  }
}

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
export function setxattr(path: string, name: string, value: Buffer, flags = 0): void {
  check(native.lsetxattr(path, name, value, flags), 'lsetxattr', path);
}

export function listxattr(path: string): string[] {
  for (;;) {
    const size = check(native.llistxattr(path, null), 'llistxattr', path);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const got = native.llistxattr(path, buf);
    if (got === -34) continue;
    check(got, 'llistxattr', path);
    return buf.subarray(0, got).toString('utf8').split('\0').filter(Boolean);
  }
}

export function removexattr(path: string, name: string): void {
  check(native.lremovexattr(path, name), 'lremovexattr', path);
}

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;
export function renameat2(from: string, to: string, flags: number): void {
  check(native.renameat2(from, to, flags), 'renameat2', from);
}

export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;
/** Sets atime and mtime to the nanosecond without following a symlink. */
export function utimens(path: string, asec: number, ansec: number, msec: number, mnsec: number): void {
  check(native.utimens(path, asec, ansec, msec, mnsec), 'utimensat', path);
}
export function futimens(fd: number, asec: number, ansec: number, msec: number, mnsec: number): void {
  check(native.futimens(fd, asec, ansec, msec, mnsec), 'futimens');
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
/** flock(2) on an open fd; with LOCK_NB a lock held elsewhere is EWOULDBLOCK (code 'EAGAIN' or 'EWOULDBLOCK'). */
export function flock(fd: number, op: number, path?: string): void {
  check(native.flock(fd, op), 'flock', path);
}

/** A file handle (name_to_handle_at(2)): the filesystem's type and its bytes. */
export interface FileHandle { type: number; bytes: Buffer }

const MAX_HANDLE_SZ = 128;

/**
 * The file handle of `path` itself (a symlink is not followed), or null when
 * its filesystem cannot give one that it could decode (EOPNOTSUPP), or none
 * of at most MAX_HANDLE_SZ bytes.
 */
export function nameToHandle(path: string): FileHandle | null {
  const buf = Buffer.alloc(8 + MAX_HANDLE_SZ);
  const r = native.nameToHandle(path, buf);
  if (r === -95 || r === -75) return null; // EOPNOTSUPP; EOVERFLOW: larger than MAX_HANDLE_SZ
  check(r, 'name_to_handle_at', path);
  const size = buf.readUInt32LE(0);
  return { type: buf.readInt32LE(4), bytes: Buffer.from(buf.subarray(8, 8 + size)) };
}

/**
 * The stat of the inode `handle` names on the filesystem of `mountFd`, or null
 * when it is gone (ESTALE) or the handle is not one of that filesystem's
 * (EINVAL). Needs CAP_DAC_READ_SEARCH: EPERM throws.
 */
export function statByHandle(mountFd: number, handle: FileHandle, out: StatBuf = newStat()): StatBuf | null {
  const buf = Buffer.alloc(8 + handle.bytes.length);
  buf.writeUInt32LE(handle.bytes.length, 0);
  buf.writeInt32LE(handle.type, 4);
  handle.bytes.copy(buf, 8);
  const r = native.openByHandle(mountFd, buf, out);
  if (r === -116 || r === -22 || r === -2) return null; // ESTALE, EINVAL, ENOENT
  check(r, 'open_by_handle_at');
  return out;
}

/** The uuid of the filesystem holding the directory `dir` (16 bytes), or null when it tells none (before Linux 6.5, or none set). */
export function fsUuid(dir: string): Buffer | null {
  const buf = Buffer.alloc(16);
  const r = native.fsUuid(dir, buf);
  if (r === 16) return buf;
  if (r >= 0 || r === -25 || r === -22 || r === -95) return null; // ENOTTY, EINVAL, EOPNOTSUPP
  check(r, 'ioctl(FS_IOC_GETFSUUID)', dir);
  return null;
}

// --- FUSE unmount (the outside programs fusermount/umount) ---
import { execFile } from 'node:child_process';

const runQuiet = (file: string, args: string[]) =>
  new Promise<void>((res, rej) => execFile(file, args, (err, _out, stderr) => (err ? rej(new Error(stderr.trim() || err.message)) : res())));

/**
 * Ends a FUSE mount: `fusermount -u`, or `umount` (umount2) where fusermount
 * is missing or refuses. The daemon serving it then sees its loop end.
 */
export async function unmountFuse(mountpoint: string): Promise<void> {
  try {
    await runQuiet('fusermount', ['-u', mountpoint]);
  } catch (first) {
    try {
      await runQuiet('umount', [mountpoint]);
    } catch (err) {
      const msg = (err as Error).message;
      const code = /busy/i.test(msg) ? 'EBUSY' : /not mounted|not found|no mount point/i.test(msg) ? 'EINVAL' : 'EIO';
      throw new FsError(code, 'umount', mountpoint, `${(first as Error).message}; ${msg}`);
    }
  }
}

/**
 * Copies `len` bytes of data from `inFd` to `outFd` (a new, empty file), both
 * from offset 0: reflink, else copy_file_range, else read/write (native/sys.c).
 * The async form runs on the libuv thread pool.
 */
export function copyData(inFd: number, outFd: number, len: number, path?: string): void {
  check(native.copyData(inFd, outFd, len), 'copy_file_range', path);
}

export function copyDataAsync(inFd: number, outFd: number, len: number, path?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = native.copyDataAsync(inFd, outFd, len, (res) => (res < 0 ? reject(FsError.fromErrno(res, 'copy_file_range', path)) : resolve()));
    if (r < 0) reject(FsError.fromErrno(r, 'copy_file_range', path));
  });
}

/** One device rule: type 0 any, 1 block, 2 char; major/minor -1 any; access bits 1 mknod, 2 read, 4 write. */
export interface DeviceRule { type: 0 | 1 | 2; major: number; minor: number; access: number }

/** Attaches a cgroup v2 device program to `dir` that allows only `rules` (the v2 form of devices.allow). */
export function cgroupDeviceFilter(dir: string, rules: DeviceRule[]): void {
  const flat = Int32Array.from(rules.flatMap((r) => [r.type, r.major, r.minor, r.access]));
  check(native.cgroupDeviceFilter(dir, flat), 'bpf', dir);
}
