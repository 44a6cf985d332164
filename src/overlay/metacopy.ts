/**
 * Metadata-only copy-up in kernel overlayfs's format (`metacopy=on`): an
 * upper regular file carrying `trusted.overlay.metacopy` (empty value) holds
 * the metadata only; it is sparse, with the data's size, and the data stays
 * in the next layer down at the same path that is not itself metacopy.
 * See native-notes/metacopy.md.
 */
import { isReg, ST, type StatBuf } from '../sys.js';
import { getxattr } from './long-path.js';

export const METACOPY_XATTR = 'trusted.overlay.metacopy';
const REDIRECT_XATTR = 'trusted.overlay.redirect';

/** Whether the regular file `real` (with stat `st`) is a metadata-only copy. */
export function isMetacopy(real: string, st: StatBuf): boolean {
  return isReg(st) && getxattr(real, METACOPY_XATTR) !== null;
}

/** What stat shows for a metacopy file: its own metadata, the data's size and blocks (as the kernel does). */
export function metacopyStat(meta: StatBuf, data: StatBuf): StatBuf {
  const out = Float64Array.from(meta) as StatBuf;
  out[ST.size] = data[ST.size]!;
  out[ST.blocks] = data[ST.blocks]!;
  return out;
}

/**
 * Where the kernel says a renamed metacopy file's data is: an absolute path
 * from the layers' root (it writes only those for non-directories). layerfs
 * never writes one: it copies the data up before a rename or a link.
 */
export function metacopyRedirect(real: string): string | null {
  const value = getxattr(real, REDIRECT_XATTR)?.toString();
  if (value === undefined || !value.startsWith('/') || value.split('/').some((p) => p === '..')) return null;
  return value.replace(/\/+$/, '');
}
