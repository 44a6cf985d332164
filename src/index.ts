export { mountOverlay, type OverlayMount, type OverlaySpec } from './mount.js';
export { Overlay, type OverlayOptions } from './overlay/overlay.js';
export { parseMountOptions, type MountOptions } from './mount-options.js';
export * from './errors.js';
