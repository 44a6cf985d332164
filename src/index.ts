/**
 * layerfs as a library: mount an overlay, keep images in a store, run and
 * commit containers, move images to and from registries.
 */
export { mountOverlay, DEFAULT_FUSE_OPTIONS, type OverlayMount, type OverlaySpec } from './mount.js';
export { Overlay, type OverlayOptions } from './overlay/overlay.js';
export { parseMountOptions, type MountOptions } from './mount-options.js';
export { Store, DEFAULT_ROOT } from './store/store.js';
export { ensureBuiltin, loadBuiltin, HELLO_MESSAGE } from './store/hello-world.js';
export { loadArchive, importTarball } from './store/load.js';
export { saveImages, type SaveFormat } from './store/save.js';
export { runContainer, createFromImage, type RunOptions, type RunResult } from './runtime/run.js';
export { startContainer, stopContainer, restartContainer, killContainer, waitContainer } from './runtime/control.js';
export { execInContainer, type ExecOptions } from './runtime/exec.js';
export { spawnSupervisor } from './runtime/supervisor.js';
export { readLog, followLog, type LogEntry } from './runtime/json-log.js';
export { commitContainer } from './runtime/commit.js';
export { exportContainer } from './runtime/export.js';
export { containerChanges } from './runtime/changes.js';
export * from './oci/index.js';
export * from './registry/index.js';
export * from './errors.js';
