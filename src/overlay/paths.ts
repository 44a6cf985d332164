/**
 * Overlay paths ('/', '/a/b') are split into checked components before any
 * of them is joined onto a layer root, so no request can climb out of a layer.
 * Lengths are the kernel's, in UTF-8 bytes: a name of up to NAME_MAX; a
 * longer one is ENAMETOOLONG. A whole path has no limit, as on overlayfs: a
 * program names a deep one relative to a deep working directory (or dirfd),
 * and the kernel walks the mount a component at a time (long-path.ts reaches
 * the real path in the layer).
 */
import { FsError } from '../errors.js';

export const NAME_MAX = 255;

/** UTF-8 length of `s`, skipping the count when `s` is surely within `limit` (a char is at most 3 bytes). */
export const bytesOver = (s: string, limit: number): boolean => s.length * 3 > limit && Buffer.byteLength(s) > limit;

/** Components of an absolute overlay path; '.', '..', NUL and relative paths are refused. */
export function components(path: string): string[] {
  if (!path.startsWith('/')) throw new FsError('EINVAL', 'lookup', path, 'not an absolute overlay path');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '') continue;
    if (part === '.' || part === '..' || part.includes('\0')) {
      throw new FsError('EINVAL', 'lookup', path, `bad path component '${part}'`);
    }
    if (bytesOver(part, NAME_MAX)) throw new FsError('ENAMETOOLONG', 'lookup', path);
    parts.push(part);
  }
  return parts;
}

export function normalize(path: string): string {
  return '/' + components(path).join('/');
}

/** The parent path and the last name; the root has neither, so it is refused with `rootCode`. */
export function splitParent(path: string, syscall: string, rootCode = 'EBUSY'): { parent: string; name: string } {
  const parts = components(path);
  const name = parts.pop();
  if (name === undefined) throw new FsError(rootCode, syscall, path);
  return { parent: '/' + parts.join('/'), name };
}

/** Joins a checked name onto a real directory. */
export const realJoin = (dir: string, name: string): string => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

/** True when `path` is `ancestor` or lies below it (both normalized). */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || path.startsWith(ancestor + '/');
}
