/**
 * The calls the overlay makes on real paths in its layers, for paths of any
 * length. A path inside a layer may be up to PATH_MAX - 1 bytes (paths.ts),
 * so with the layer's root in front the real path can pass PATH_MAX, which the
 * kernel refuses in one syscall (it walks one component at a time only
 * inside the mount). A long path is reached in steps: an O_PATH fd on an
 * ancestor directory, each opened through /proc/self/fd/N of the one before,
 * and the call is made on /proc/self/fd/M/REST. Only the last fd stays open,
 * and only for the call, which is synchronous. A short path (nearly every
 * one) costs a length check.
 */
import * as fs from 'node:fs';
import { FsError } from '../errors.js';
import * as sys from '../sys.js';
import type { StatBuf } from '../sys.js';

const O_PATH = 0o10000000;
/** Real paths up to this many bytes go to the kernel as they are (PATH_MAX 4096 with its NUL, and some margin). */
const DIRECT_MAX = 4000;
/** At most 3 UTF-8 bytes per UTF-16 unit: this many units always fit. */
const DIRECT_UNITS = Math.floor(DIRECT_MAX / 3);

const fits = (path: string): boolean => path.length <= DIRECT_UNITS || Buffer.byteLength(path) <= DIRECT_MAX;

interface Short {
  path: string;
  /** The O_PATH fd `path` goes through; -1 for none. */
  fd: number;
}

/** A form of `path` of at most DIRECT_MAX bytes, through an O_PATH fd on one of its ancestors. */
function shorten(path: string): Short {
  if (fits(path)) return { path, fd: -1 };
  const parts = path.split('/');
  let fd = -1;
  let from = 0; // the first part not opened yet
  let rest = Buffer.byteLength(path);
  try {
    for (;;) {
      const base = fd < 0 ? '' : `/proc/self/fd/${fd}/`;
      if (base.length + rest <= DIRECT_MAX) return { path: base + parts.slice(from).join('/'), fd };
      // The longest run of ancestors that fits, opened as one step.
      let to = from;
      let bytes = 0;
      while (to < parts.length - 1) {
        const add = Buffer.byteLength(parts[to]!) + (to > from ? 1 : 0);
        if (base.length + bytes + add > DIRECT_MAX) break;
        bytes += add;
        to++;
      }
      if (to === from) throw new FsError('ENAMETOOLONG', 'open', path);
      const next = fs.openSync(base + (parts.slice(from, to).join('/') || '/'), O_PATH | fs.constants.O_DIRECTORY);
      if (fd >= 0) fs.closeSync(fd);
      fd = next;
      rest -= bytes + 1;
      from = to;
    }
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd);
    throw err;
  }
}

/** Runs `call` on a form of `path` the kernel takes. */
function via<T>(path: string, call: (p: string) => T): T {
  const s = shorten(path);
  try {
    return call(s.path);
  } finally {
    if (s.fd >= 0) fs.closeSync(s.fd);
  }
}

function via2<T>(a: string, b: string, call: (a: string, b: string) => T): T {
  const sa = shorten(a);
  try {
    return via(b, (pb) => call(sa.path, pb));
  } finally {
    if (sa.fd >= 0) fs.closeSync(sa.fd);
  }
}

const missing = (err: unknown): boolean => {
  const code = (err as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

// ---- the calls, each as in node:fs or ../sys.js ----

export function lstat(p: string): StatBuf | null {
  if (fits(p)) return sys.lstat(p);
  try {
    return via(p, sys.lstat);
  } catch (err) {
    if (missing(err)) return null; // an ancestor is missing: so is the path
    throw err;
  }
}

export const getxattr = (p: string, name: string): Buffer | null =>
  fits(p) ? sys.getxattr(p, name) : via(p, (s) => sys.getxattr(s, name));
export const setxattr = (p: string, name: string, value: Buffer, flags = 0): void =>
  fits(p) ? sys.setxattr(p, name, value, flags) : via(p, (s) => sys.setxattr(s, name, value, flags));
export const listxattr = (p: string): string[] => (fits(p) ? sys.listxattr(p) : via(p, sys.listxattr));
export const removexattr = (p: string, name: string): void =>
  fits(p) ? sys.removexattr(p, name) : via(p, (s) => sys.removexattr(s, name));
export const utimens = (p: string, asec: number, ansec: number, msec: number, mnsec: number): void =>
  fits(p) ? sys.utimens(p, asec, ansec, msec, mnsec) : via(p, (s) => sys.utimens(s, asec, ansec, msec, mnsec));
export const mknodRaw = (p: string, mode: number, dev: number): void =>
  fits(p) ? sys.mknodRaw(p, mode, dev) : via(p, (s) => sys.mknodRaw(s, mode, dev));
export const nameToHandle = (p: string): sys.FileHandle | null => (fits(p) ? sys.nameToHandle(p) : via(p, sys.nameToHandle));
export const mkWhiteout = (p: string): void => (fits(p) ? sys.mkWhiteout(p) : via(p, sys.mkWhiteout));
export const renameat2 = (from: string, to: string, flags: number): void =>
  fits(from) && fits(to) ? sys.renameat2(from, to, flags) : via2(from, to, (a, b) => sys.renameat2(a, b, flags));

export const openSync = (p: string, flags: number, mode?: number): number =>
  fits(p) ? fs.openSync(p, flags, mode) : via(p, (s) => fs.openSync(s, flags, mode));
export const mkdirSync = (p: string, mode: number): void =>
  void (fits(p) ? fs.mkdirSync(p, mode) : via(p, (s) => fs.mkdirSync(s, mode)));
export const chmodSync = (p: string, mode: number): void =>
  fits(p) ? fs.chmodSync(p, mode) : via(p, (s) => fs.chmodSync(s, mode));
export const lchownSync = (p: string, uid: number, gid: number): void =>
  fits(p) ? fs.lchownSync(p, uid, gid) : via(p, (s) => fs.lchownSync(s, uid, gid));
export const symlinkSync = (target: string | Buffer, p: string): void =>
  fits(p) ? fs.symlinkSync(target, p) : via(p, (s) => fs.symlinkSync(target, s));
export const linkSync = (existing: string, p: string): void =>
  fits(existing) && fits(p) ? fs.linkSync(existing, p) : via2(existing, p, fs.linkSync);
export const unlinkSync = (p: string): void => (fits(p) ? fs.unlinkSync(p) : via(p, fs.unlinkSync));
export const renameSync = (from: string, to: string): void =>
  fits(from) && fits(to) ? fs.renameSync(from, to) : via2(from, to, fs.renameSync);

export function readlinkSync(p: string): string;
export function readlinkSync(p: string, encoding: 'buffer'): Buffer;
export function readlinkSync(p: string, encoding?: 'buffer'): string | Buffer {
  const read = (s: string) => (encoding === 'buffer' ? fs.readlinkSync(s, 'buffer') : fs.readlinkSync(s));
  return fits(p) ? read(p) : via(p, read);
}

export const readdirSync = (p: string): string[] => (fits(p) ? fs.readdirSync(p) : via(p, (s) => fs.readdirSync(s)));
/** readdir with each entry's type (`Dirent.parentPath` is not meaningful for a long path). */
export const readdirTypes = (p: string): fs.Dirent[] =>
  fits(p) ? fs.readdirSync(p, { withFileTypes: true }) : via(p, (s) => fs.readdirSync(s, { withFileTypes: true }));
