/**
 * The two whiteout formats layerfs reads, and the one it writes.
 * Read: a character device 0:0 (kernel overlayfs), or a `.wh.NAME` file beside
 * NAME (OCI layers unpacked for a mount program). Opaque directory: xattr
 * `trusted.overlay.opaque=y`, or a `.wh..wh..opq` entry inside it.
 * Written: char 0:0 whiteouts and the opaque xattr, as kernel overlayfs does.
 */
import { getxattr, lstat, mkWhiteout, setxattr } from '../sys.js';
import { realJoin } from './paths.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Names that are whiteout bookkeeping in a layer and never an overlay entry. */
export const isWhiteoutName = (name: string): boolean => name.startsWith(WHITEOUT_PREFIX);

/** True when `dir` holds a `.wh.NAME` whiteout file for `name`. */
export const hasWhiteoutFile = (dir: string, name: string): boolean =>
  lstat(realJoin(dir, WHITEOUT_PREFIX + name)) !== null;

export function isOpaqueDir(dir: string): boolean {
  const v = getxattr(dir, OPAQUE_XATTR);
  if (v !== null && v.length === 1 && v[0] === 0x79 /* 'y' */) return true;
  return lstat(realJoin(dir, OPAQUE_MARKER)) !== null;
}

export function setOpaque(dir: string): void {
  setxattr(dir, OPAQUE_XATTR, Buffer.from('y'));
}

export const makeWhiteout = (path: string): void => mkWhiteout(path);
