/**
 * Mounting an overlay in this process: the library entry point
 * (`import { mountOverlay } from 'layerfs'`). The CLI's `mount` command runs
 * this in a daemon; a runtime may call it directly.
 */
import { Overlay } from './overlay/overlay.js';
import { warmUp } from './warm-up.js';
import type { FuseMount } from './fuse/binding.js';
import { mountEngine } from './fuse/engine.js';
import { UsageError } from './errors.js';
import { overlayOps, type IdView } from './fuse/ops.js';
import type { MountOptions } from './mount-options.js';

export interface OverlaySpec extends IdView {
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  /** Metadata-only copy-up in the kernel's format (mount option metacopy=on). */
  metacopy?: boolean;
  mountpoint: string;
  /**
   * Extra FUSE options, e.g. `fsname=...`, `entry_timeout=S`, `threads=N`, and
   * `engine=layerfs|fuse-native` (the first is the default), `passthrough=off`.
   */
  fuse?: string[];
  /** How long (µs) the JS thread polls for the next request (default: LAYERFS_FUSE_SPIN_US, else 50). */
  spinUs?: number;
  log?: (msg: string) => void;
}

/**
 * The spec for parsed `-o` options, as the CLI's foreground mount and the
 * mount server both mount them: `source` (mount(8)'s first argument) names
 * the filesystem unless an `fsname=` does.
 */
export function overlaySpecOf(opts: MountOptions, mountpoint: string, source?: string): OverlaySpec {
  if (opts.readonly && opts.upperdir) throw new UsageError('mount option ro with upperdir= is not supported');
  const named = source !== undefined && !opts.fuse.some((o) => o.startsWith('fsname='));
  return {
    lowerdirs: opts.lowerdirs,
    upperdir: opts.upperdir,
    workdir: opts.workdir,
    metacopy: opts.metacopy,
    mountpoint,
    fuse: [...opts.fuse, ...(named ? [`fsname=${source.replace(/,/g, '_')}`] : [])],
    uidMapping: opts.uidMapping,
    gidMapping: opts.gidMapping,
    squashUid: opts.squashUid,
    squashGid: opts.squashGid,
  };
}

export interface OverlayMount {
  readonly mountpoint: string;
  readonly overlay: Overlay;
  /** Resolves when the filesystem is unmounted, by us or from outside. */
  readonly closed: Promise<void>;
  unmount(): Promise<void>;
}

/**
 * fuse-native's options. default_permissions lets the kernel check modes for
 * every caller; allow_other lets other users (and containers) in. Entry and
 * attribute caches are safe because every change goes through this mount
 * (lower layers are read-only by contract), as kernel overlayfs assumes.
 * Page cache: auto_cache with ac_attr_timeout=0 keeps a file's cached pages
 * across opens only while its mtime and size are unchanged. kernel_cache
 * would be faster, but libfuse 2 gives each hard link its own kernel inode,
 * and a write through one name then left the other's pages stale for good.
 */
export const DEFAULT_FUSE_OPTIONS = [
  'default_permissions', 'allow_other', 'suid', 'dev', 'use_ino', 'hard_remove', 'subtype=layerfs',
  'auto_cache', 'ac_attr_timeout=0', 'entry_timeout=1', 'attr_timeout=1', 'negative_timeout=1',
  'big_writes', 'max_write=131072', 'max_readahead=1048576', 'splice_write',
];

/**
 * How long the kernel may keep names, attributes and absent names with our
 * engine (seconds; fuse-overlayfs's default). Safe because the layers do not
 * change under a mount and every change goes through it, to one node per file.
 */
export const ENGINE_TIMEOUT = 1_000_000;
export const ENGINE_THREADS = 4;

/** LAYERFS_FUSE_SPIN_US: how long the JS thread polls for the next request (default 50 µs; 0: never). */
export function spinMicroseconds(): number {
  const v = Number(process.env.LAYERFS_FUSE_SPIN_US ?? 50);
  return Number.isFinite(v) && v >= 0 ? v : 50;
}

/**
 * The warm-up compiles the write paths, and compiled code serves every later
 * mount of this process (the mount server's), so one is enough.
 */
let warmedUp = false;

export async function mountOverlay(spec: OverlaySpec): Promise<OverlayMount> {
  const overlay = new Overlay({ lowerdirs: spec.lowerdirs, upperdir: spec.upperdir, workdir: spec.workdir, metacopy: spec.metacopy });
  const extra = spec.fuse ?? [];
  const value = (name: string) => extra.findLast((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  const engine = value('engine') ?? 'layerfs';
  let fuse: FuseMount;
  try {
    // Only speed is at stake: a warm-up that fails leaves a mount that is slower at its first writes.
    if (!warmedUp && spec.workdir !== undefined && !overlay.readonly) {
      warmedUp = await warmUp(spec.workdir, spec).then(() => true, () => false);
    }
    fuse = await mountWith(engine, overlay, spec, value);
  } catch (err) {
    overlay.close();
    throw err;
  }
  // The overlay's lock on its upper and work dirs lasts as long as the mount.
  const closed = fuse.closed.then(() => overlay.close());
  return {
    mountpoint: spec.mountpoint,
    overlay,
    closed,
    unmount: async () => {
      await fuse.unmount();
      await closed;
    },
  };
}

async function mountWith(
  engine: string, overlay: Overlay, spec: OverlaySpec, value: (name: string) => string | undefined,
): Promise<FuseMount> {
  const extra = spec.fuse ?? [];
  if (engine === 'fuse-native') {
    const { mountFuse } = await import('./fuse/binding.js');
    const passed = extra.filter((o) => !/^(engine|threads|passthrough)=/.test(o));
    const options = [...DEFAULT_FUSE_OPTIONS, ...(value('fsname') ? [] : ['fsname=layerfs']), ...passed];
    if (overlay.readonly) options.push('ro');
    return mountFuse(spec.mountpoint, overlayOps(overlay, spec), { options, passthrough: true, log: spec.log });
  }
  if (engine === 'layerfs') {
    const seconds = (name: string, fallback: number) => {
      const v = value(name);
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new UsageError(`mount option ${name}=${v}: not a number of seconds >= 0`);
      return n;
    };
    const threads = seconds('threads', ENGINE_THREADS);
    return mountEngine(spec.mountpoint, overlayOps(overlay, spec), {
      fsname: value('fsname') ?? 'layerfs',
      readonly: overlay.readonly,
      entryTimeout: seconds('entry_timeout', ENGINE_TIMEOUT),
      attrTimeout: seconds('attr_timeout', ENGINE_TIMEOUT),
      negativeTimeout: seconds('negative_timeout', ENGINE_TIMEOUT),
      threads: Math.max(1, Math.min(16, Math.floor(threads))),
      passthrough: value('passthrough') !== 'off',
      spinMs: (spec.spinUs ?? spinMicroseconds()) / 1000,
      allowOther: true,
      suid: true,
      dev: true,
      log: spec.log ?? ((m) => process.stderr.write(`${m}\n`)),
    });
  }
  throw new UsageError(`mount option engine=${engine}: use layerfs or fuse-native`);
}
