/**
 * Metadata-only copy-up in kernel overlayfs's format (`metacopy=on`): an
 * upper regular file carrying `trusted.overlay.metacopy` (empty value) holds
 * the metadata only; it is sparse, with the data's size, and the data stays
 * in the next layer down at the same path that is not itself metacopy.
 * See native-notes/metacopy.md.
 */
import { getxattr, isReg, ST, type StatBuf } from '../sys.js';

export const METACOPY_XATTR = 'trusted.overlay.metacopy';

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
