/**
 * The two whiteout formats layerfs reads, and the one it writes.
 * Read: a character device 0:0 (kernel overlayfs), or a `.wh.NAME` file beside
 * NAME (OCI layers unpacked for a mount program). Opaque directory: xattr
 * `trusted.overlay.opaque=y`, or a `.wh..wh..opq` entry inside it.
 * Written: char 0:0 whiteouts and the opaque xattr, as kernel overlayfs does.
 */
import { getxattr, lstat, mkWhiteout, setxattr, unlinkSync } from './long-path.js';
import { bytesOver, NAME_MAX, realJoin } from './paths.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Names that are whiteout bookkeeping in a layer and never an overlay entry. */
export const isWhiteoutName = (name: string): boolean => name.startsWith(WHITEOUT_PREFIX);

/**
 * The name of the `.wh.NAME` whiteout file for `name`, or null when it would
 * be over NAME_MAX (a name of 252-255 bytes): no such file can exist, so there
 * is nothing to look up, create or remove.
 */
export function whiteoutFileName(name: string): string | null {
  const wh = WHITEOUT_PREFIX + name;
  return bytesOver(wh, NAME_MAX) ? null : wh;
}

/** True when `dir` holds a `.wh.NAME` whiteout file for `name`. */
export function hasWhiteoutFile(dir: string, name: string): boolean {
  const wh = whiteoutFileName(name);
  return wh !== null && lstat(realJoin(dir, wh)) !== null;
}

/** Removes the `.wh.NAME` whiteout file for `name` from `dir` (a caller found it there). */
export function removeWhiteoutFile(dir: string, name: string): void {
  const wh = whiteoutFileName(name);
  if (wh !== null) unlinkSync(realJoin(dir, wh));
}

export function isOpaqueDir(dir: string): boolean {
  const v = getxattr(dir, OPAQUE_XATTR);
  if (v !== null && v.length === 1 && v[0] === 0x79 /* 'y' */) return true;
  return lstat(realJoin(dir, OPAQUE_MARKER)) !== null;
}

export function setOpaque(dir: string): void {
  setxattr(dir, OPAQUE_XATTR, Buffer.from('y'));
}

export const makeWhiteout = (path: string): void => mkWhiteout(path);
