/**
 * Which xattr names the overlay shows. `trusted.overlay.*` on a layer is
 * overlay bookkeeping (opaque, origin...) and is never shown; like kernel
 * overlayfs (Linux 6.7+), a `trusted.overlay.X` set through the overlay is
 * stored escaped as `trusted.overlay.overlay.X` and shown unescaped.
 * `user.layerfs.*` is layerfs's own metadata and is neither shown nor settable.
 */
const OVL = 'trusted.overlay.';
const ESCAPED = 'trusted.overlay.overlay.';
const LAYERFS = 'user.layerfs.';

/** Overlay-internal on a layer: not shown, not copied up. */
export const isPrivateXattr = (real: string): boolean => real.startsWith(OVL) && !real.startsWith(ESCAPED);

/** Names a caller may not set or remove through the overlay. */
export const isReservedXattr = (name: string): boolean => name.startsWith(LAYERFS);

/** The name stored on the layer for a name the caller uses. */
export const toLayerName = (name: string): string => (name.startsWith(OVL) ? ESCAPED + name.slice(OVL.length) : name);

/** The name the caller sees for a name stored on a layer, or null when hidden. */
export function toOverlayName(real: string): string | null {
  if (real.startsWith(ESCAPED)) return OVL + real.slice(ESCAPED.length);
  if (real.startsWith(OVL) || real.startsWith(LAYERFS)) return null;
  return real;
}
