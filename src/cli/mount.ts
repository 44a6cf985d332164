/**
 * `layerfs mount [-f] -o OPTS [SOURCE] MOUNTPOINT`: the fuse-overlayfs and
 * mount.fuse3 command line. Without -f it returns once the mount is ready.
 * `layerfs mount [--writable] IMAGE MOUNTPOINT` mounts an image from the store.
 */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { openStore, withRoot } from './store-options.js';
import { formatMountOptions, parseMountOptions, withAbsolutePaths } from '../mount-options.js';
import { reportToParent, spawnMountDaemon, watchLifeline } from '../daemon.js';
import { requestMount } from '../mount-client.js';
import { unmountFuse } from '../sys.js';
import { execFile } from 'node:child_process';
import { UsageError, type LayerfsError } from '../errors.js';

const collect = (value: string, prev: string[]) => [...prev, value];

export function register(program: Command): void {
  withRoot(program
    .command('mount')
    .description('mount lower layers under a writable upper layer (leftmost lowerdir on top), or an image')
    .argument('[source]', 'a name shown as the filesystem source (mount(8) passes it; optional)')
    .argument('[mountpoint]', 'where the merged tree appears')
    .option('-o, --options <opts>', 'lowerdir=L1:L2,upperdir=U,workdir=W[,...]; may repeat', collect, [])
    .option('-f, --foreground', 'stay in the foreground (serve until unmounted)')
    .option('-d, --debug', 'foreground, logging to stderr')
    .option('--log <file>', 'this mount\'s messages go here (from the mount server or its own daemon)')
    .option('--writable', 'with an IMAGE: add a fresh upper layer, removed on unmount')
    .option('--remove-on-exit <dir>', 'remove this directory once unmounted (used for --writable)'))
    .addHelpText('after', '\nWithout -f, the mount is handed to the mount server, one process serving every layerfs mount\n'
      + 'of this user (started on demand, gone 10 s after its last mount ends); `umount MOUNTPOINT` ends\n'
      + 'that mount alone.\n'
      + '  daemon=shared|own           own: serve this mount from a process of its own instead (as\n'
      + '                              -o engine=fuse-native always does)\n'
      + '\nFUSE options (with -o):\n'
      + '  engine=layerfs|fuse-native  layerfs\'s own /dev/fuse engine (default) or libfuse 2 via fuse-native\n'
      + '  passthrough=off             no FUSE passthrough (default: on where the kernel allows it)\n'
      + '  threads=N                   reader threads on /dev/fuse (default 4)\n'
      + '  entry_timeout=S, attr_timeout=S, negative_timeout=S\n'
      + '                              how long the kernel keeps names and attributes (default 1000000)\n'
      + '  See native-notes/fuse-engine.md.\n'
      + '\nEnvironment:\n  LAYERFS_FUSE_SPIN_US        how long (µs) each side of a request hand-off polls before it\n'
      + '                              sleeps (default 50; 0: never), on either engine.\n'
      + '  LAYERFS_MOUNTD_DIR          where the mount server\'s socket lives (default /run/layerfs for\n'
      + '                              root, else $XDG_RUNTIME_DIR/layerfs or /tmp/layerfs-UID)')
    .action(async (first: string | undefined, second: string | undefined, flags: MountFlags) => {
      if (first === undefined) throw new UsageError('mount: a mount point is required');
      // One positional is the mount point; two are mount(8)'s SOURCE MOUNTPOINT.
      await (second === undefined ? mountCommand(undefined, first, flags) : mountCommand(first, second, flags));
    });
}

interface MountFlags {
  options: string[];
  foreground?: boolean;
  debug?: boolean;
  log?: string;
  root?: string;
  writable?: boolean;
  removeOnExit?: string;
}

/** An image from the store: its layer dirs become the lowerdirs; --writable adds a scratch upper. */
async function imageMountFlags(ref: string, flags: MountFlags): Promise<MountFlags> {
  const store = await openStore(flags);
  const img = await store.resolve(ref);
  const dirs = { lowerdirs: store.layerDirs(img), upperdir: undefined as string | undefined, workdir: undefined as string | undefined };
  let removeOnExit: string | undefined;
  if (flags.writable) {
    removeOnExit = join(store.root, 'mounts', randomBytes(8).toString('hex'));
    await mkdir(join(removeOnExit, 'upper'), { recursive: true });
    await mkdir(join(removeOnExit, 'work'));
    dirs.upperdir = join(removeOnExit, 'upper');
    dirs.workdir = join(removeOnExit, 'work');
  }
  return { ...flags, options: [...flags.options, formatMountOptions(dirs)], removeOnExit };
}

async function mountCommand(source: string | undefined, mountpoint: string, flags: MountFlags): Promise<void> {
  if (source !== undefined && !flags.options.some((o) => /(^|,)lowerdir=/.test(o))) {
    flags = await imageMountFlags(source, flags);
  }
  // Relative directories are the caller's working directory's, as for the kernel; the daemon runs in '/'.
  const opts = withAbsolutePaths(parseMountOptions(flags.options));
  for (const w of opts.warnings) process.stderr.write(`layerfs: warning: ${w}\n`);
  const target = resolve(mountpoint);
  if (!flags.foreground && !flags.debug) {
    const spec = { ...opts, mountpoint: target, source, logFile: flags.log, removeOnExit: flags.removeOnExit };
    try {
      // The fuse-native engine (the bench's baseline) keeps a process of its own, as it always had.
      const own = opts.daemon === 'own' || opts.fuse.findLast((o) => o.startsWith('engine=')) === 'engine=fuse-native';
      // Where no private directory for the server's socket can be had (root of a user namespace, say), a daemon of its own.
      const served = own ? undefined : await requestMount(spec).then(() => true, (err: LayerfsError) => (err.code === 'MOUNTD_UNAVAILABLE' ? false : Promise.reject(err)));
      if (!served) (await spawnMountDaemon(spec)).detach();
    } catch (err) {
      if (flags.removeOnExit) await rm(flags.removeOnExit, { recursive: true, force: true });
      throw err;
    }
    return;
  }
  const log = (msg: string) => process.stderr.write(`layerfs: ${msg}\n`);
  let mounted;
  try {
    // Only the daemon serves the mount: the command that spawns it need not load the overlay.
    const { mountOverlay, overlaySpecOf } = await import('../mount.js');
    mounted = await mountOverlay({ ...overlaySpecOf(opts, target, source), log });
  } catch (err) {
    reportToParent(`error: ${(err as Error).message}`);
    throw err;
  }
  reportToParent('ready');
  const m = mounted;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    m.unmount().catch((err: Error) => log(`unmount ${target}: ${err.message}`));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {});
  // The runtime that owns this mount died: the container dies with it (PDEATHSIG), so a
  // busy mount is detached lazily; the process ends once the kernel lets go of it.
  watchLifeline(() => {
    stopping = true;
    unmountFuse(target).catch(() => new Promise((r) => execFile('umount', ['-l', target], r)));
    setTimeout(() => process.exit(0), 5000).unref();
  });
  await m.closed;
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  if (flags.removeOnExit) await rm(flags.removeOnExit, { recursive: true, force: true });
}
