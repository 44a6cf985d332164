/**
 * The kernel's FUSE protocol (<linux/fuse.h>, 7.40): opcodes, flags, and the
 * few codecs the engine needs. Requests are read at fixed offsets; replies are
 * written into one buffer behind a 16-byte out header. Numbers above 2^32 go
 * through two 32-bit halves (exact to 2^53; times may be negative).
 */
import { FsError } from '../errors.js';
import { ST, type StatBuf } from '../sys.js';

export const OP = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9, UNLINK: 10,
  RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18, FSYNC: 20,
  SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28,
  RELEASEDIR: 29, FSYNCDIR: 30, ACCESS: 34, CREATE: 35, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42,
  READDIRPLUS: 44, RENAME2: 45,
} as const;

/** INIT flags (flags2 holds bits 32 and up). */
export const INIT = {
  ASYNC_READ: 1 << 0, ATOMIC_O_TRUNC: 1 << 3, BIG_WRITES: 1 << 5, DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14, ASYNC_DIO: 1 << 15, PARALLEL_DIROPS: 1 << 18, MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23, INIT_EXT: 1 << 30,
} as const;
export const INIT2 = { PASSTHROUGH: 1 << (37 - 32) } as const;

export const FOPEN = { DIRECT_IO: 1 << 0, KEEP_CACHE: 1 << 1, CACHE_DIR: 1 << 3, PASSTHROUGH: 1 << 7 } as const;

export const FATTR = {
  MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, FH: 1 << 6,
  ATIME_NOW: 1 << 7, MTIME_NOW: 1 << 8,
} as const;

export const PROTOCOL_MINOR = 40;
export const IN_HEADER = 40;
export const OUT_HEADER = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT = 40 + ATTR_SIZE;
export const ATTR_OUT = 16 + ATTR_SIZE;
export const OPEN_OUT = 16;

const TWO32 = 4294967296;

export function u64(b: Buffer, o: number): number {
  return b.readUInt32LE(o) + b.readUInt32LE(o + 4) * TWO32;
}

export function s64(b: Buffer, o: number): number {
  return b.readUInt32LE(o) + b.readInt32LE(o + 4) * TWO32;
}

export function put64(b: Buffer, o: number, n: number): void {
  const hi = Math.floor(n / TWO32);
  b.writeUInt32LE(n - hi * TWO32, o);
  if (hi < 0) b.writeInt32LE(hi, o + 4);
  else b.writeUInt32LE(hi, o + 4);
}

/** A NUL-terminated name at `o`; returns the name and the offset after its NUL. */
export function cstring(b: Buffer, o: number): [string, number] {
  let end = b.indexOf(0, o);
  if (end < 0) end = b.length;
  return [b.toString('utf8', o, end), end + 1];
}

/**
 * A file name. The overlay works on strings: a name that is not UTF-8 would
 * come back as another name, so it is refused (EILSEQ) rather than changed.
 */
export function fileName(b: Buffer, o: number): [string, number] {
  const [name, next] = cstring(b, o);
  if (name.includes('\uFFFD') && !Buffer.from(name).equals(b.subarray(o, next - 1))) throw new FsError('EILSEQ', 'lookup', name);
  return [name, next];
}

/** The same name as raw bytes (names that are not UTF-8 must survive). */
export function cbytes(b: Buffer, o: number): [Buffer, number] {
  let end = b.indexOf(0, o);
  if (end < 0) end = b.length;
  return [b.subarray(o, end), end + 1];
}

/** struct fuse_attr from a stat; `ino` is the node's, which outlives copy-up. */
export function putAttr(b: Buffer, o: number, st: StatBuf, ino: number): void {
  put64(b, o, ino);
  put64(b, o + 8, st[ST.size]!);
  put64(b, o + 16, st[ST.blocks]!);
  put64(b, o + 24, st[ST.atimeSec]!);
  put64(b, o + 32, st[ST.mtimeSec]!);
  put64(b, o + 40, st[ST.ctimeSec]!);
  b.writeUInt32LE(st[ST.atimeNsec]!, o + 48);
  b.writeUInt32LE(st[ST.mtimeNsec]!, o + 52);
  b.writeUInt32LE(st[ST.ctimeNsec]!, o + 56);
  b.writeUInt32LE(st[ST.mode]!, o + 60);
  b.writeUInt32LE(Math.min(st[ST.nlink]!, 0xffffffff), o + 64);
  b.writeUInt32LE(st[ST.uid]!, o + 68);
  b.writeUInt32LE(st[ST.gid]!, o + 72);
  b.writeUInt32LE(encodeDev(st[ST.rdev]!), o + 76);
  b.writeUInt32LE(st[ST.blksize]!, o + 80);
  b.writeUInt32LE(0, o + 84);
}

/** glibc's dev_t to the kernel's 32-bit encoding (major 12 bits, minor 20). */
export function encodeDev(dev: number): number {
  const major = (Math.floor(dev / 256) & 0xfff) | (Math.floor(dev / TWO32) & ~0xfff);
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff);
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xfff00) << 12)) >>> 0;
}

/** The kernel's 32-bit encoding (mknod_in.rdev) to glibc's dev_t. */
export function decodeDev(dev: number): number {
  const major = (dev & 0xfff00) >>> 8;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return major * 256 + (minor & 0xff) + (minor & 0xfff00) * 4096;
}

/** Timeouts in seconds as (sec, nsec). */
export function putTimeout(b: Buffer, secOff: number, nsecOff: number, seconds: number): void {
  const s = Math.floor(seconds);
  put64(b, secOff, s);
  b.writeUInt32LE(Math.round((seconds - s) * 1e9), nsecOff);
}
