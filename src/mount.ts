/**
 * Mounting an overlay in this process: the library entry point
 * (`import { mountOverlay } from 'layerfs'`). The CLI's `mount` command runs
 * this in a daemon; a runtime may call it directly.
 */
import { Overlay } from './overlay/overlay.js';
import { mountFuse, type FuseMount } from './fuse/binding.js';
import { overlayOps, type IdView } from './fuse/ops.js';

export interface OverlaySpec extends IdView {
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  /** Metadata-only copy-up in the kernel's format (mount option metacopy=on). */
  metacopy?: boolean;
  mountpoint: string;
  /** Extra libfuse options, e.g. `fsname=...`. */
  fuse?: string[];
  log?: (msg: string) => void;
}

export interface OverlayMount {
  readonly mountpoint: string;
  readonly overlay: Overlay;
  /** Resolves when the filesystem is unmounted, by us or from outside. */
  readonly closed: Promise<void>;
  unmount(): Promise<void>;
}

/**
 * Kernel-facing options. default_permissions lets the kernel check modes for
 * every caller; allow_other lets other users (and containers) in. Entry and
 * attribute caches are safe because every change goes through this mount
 * (lower layers are read-only by contract), as kernel overlayfs assumes.
 * Page cache: auto_cache with ac_attr_timeout=0 keeps a file's cached pages
 * across opens only while its mtime and size are unchanged. kernel_cache
 * would be faster, but libfuse 2 gives each hard link its own kernel inode,
 * and a write through one name then left the other's pages stale for good
 * (test/fuse/hard-link-attrs.test.ts).
 */
export const DEFAULT_FUSE_OPTIONS = [
  'default_permissions', 'allow_other', 'suid', 'dev', 'use_ino', 'hard_remove', 'subtype=layerfs',
  'auto_cache', 'ac_attr_timeout=0', 'entry_timeout=1', 'attr_timeout=1', 'negative_timeout=1',
  'big_writes', 'max_write=131072', 'max_readahead=1048576', 'splice_write',
];

export async function mountOverlay(spec: OverlaySpec): Promise<OverlayMount> {
  const overlay = new Overlay({ lowerdirs: spec.lowerdirs, upperdir: spec.upperdir, workdir: spec.workdir, metacopy: spec.metacopy });
  const extra = spec.fuse ?? [];
  const hasFsname = extra.some((o) => o.startsWith('fsname='));
  const options = [...DEFAULT_FUSE_OPTIONS, ...(hasFsname ? [] : ['fsname=layerfs']), ...extra];
  if (overlay.readonly) options.push('ro');
  const fuse: FuseMount = await mountFuse(spec.mountpoint, overlayOps(overlay, spec), {
    options,
    passthrough: true,
    log: spec.log,
  });
  return {
    mountpoint: spec.mountpoint,
    overlay,
    closed: fuse.closed,
    unmount: () => fuse.unmount(),
  };
}
