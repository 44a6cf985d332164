/**
 * Mounting a container's root filesystem: the image layers under its own
 * upper dir. Two mounters share one interface so the runtime does not care:
 * `layerfs` (our FUSE overlay, a daemon the runtime watches) and `kernel`
 * (overlayfs, for tests and comparison).
 *
 * A mount ends in one of two ways, reported by `closed`: 'unmounted' (we took
 * it down) or 'died' (it ended under a running container: unmounted by
 * someone else, or the mount server died).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { LayerfsError } from '../errors.js';
import { unmountFuse } from '../sys.js';
import { requestMount, type ServedMount } from '../mount-client.js';
import { formatMountOptions } from '../mount-options.js';

const run = promisify(execFile);

export interface RootfsSpec {
  /** Top layer first. */
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  merged: string;
  /** Where the daemon writes its log (layerfs only). */
  log?: string;
}

export type RootfsEnd = 'unmounted' | 'died';

export interface RootfsMount {
  readonly merged: string;
  /** The pid of the process serving it (the mount server's serves other mounts too), when there is one. */
  readonly pid?: number;
  readonly closed: Promise<RootfsEnd>;
  unmount(): Promise<void>;
}

export interface RootfsMounter {
  readonly name: MounterName;
  mount(spec: RootfsSpec): Promise<RootfsMount>;
}

export type MounterName = 'layerfs' | 'kernel';


export function isMounted(path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === path.replace(/ /g, '\\040'));
}

/** Takes a mount down, lazily as a last resort (a dead FUSE daemon, a busy tree). */
export async function forceUnmount(path: string): Promise<void> {
  if (!isMounted(path)) return;
  await unmountFuse(path).catch(() => run('umount', [path]).catch(() => {}));
  if (isMounted(path)) await run('umount', ['-l', path]).catch(() => {});
  if (isMounted(path)) throw new LayerfsError('UNMOUNT_FAILED', `could not unmount ${path}`, { path });
}

export const kernelMounter: RootfsMounter = {
  name: 'kernel',
  async mount(spec) {
    const features = spec.upperdir ? ',redirect_dir=off,index=off,metacopy=off,xino=off' : '';
    await run('mount', ['-t', 'overlay', 'overlay', '-o', formatMountOptions(spec) + features, spec.merged]);
    let done!: (end: RootfsEnd) => void;
    const closed = new Promise<RootfsEnd>((r) => (done = r));
    return {
      merged: spec.merged,
      closed,
      async unmount() {
        await forceUnmount(spec.merged);
        done('unmounted');
      },
    };
  },
};

/**
 * Hands the overlay to the mount server (src/mount-server.ts) with a lifeline:
 * the connection stays open, so the server unmounts it should this process
 * die, and says when the mount ended; a connection that drops without that
 * word means the server died. The server runs in its own session, so a
 * Ctrl-C meant for the container never reaches it.
 */
export const layerfsMounter: RootfsMounter = {
  name: 'layerfs',
  async mount(spec) {
    let served: ServedMount;
    try {
      const { lowerdirs, upperdir, workdir, merged, log } = spec;
      served = await requestMount({ lowerdirs, upperdir, workdir, mountpoint: merged, source: 'layerfs', logFile: log, lifeline: true });
    } catch (err) {
      await forceUnmount(spec.merged).catch(() => {});
      const tail = spec.log ? (await readFile(spec.log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n') : '';
      const seeLog = tail ? `; the daemon said:\n${tail}` : '';
      throw new LayerfsError('MOUNT_FAILED', `mounting the rootfs at ${spec.merged}: ${(err as Error).message}${seeLog}`, { path: spec.merged });
    }
    let unmounting = false;
    const closed = served.ended.then((): RootfsEnd => (unmounting ? 'unmounted' : 'died'));
    return {
      merged: spec.merged,
      pid: served.pid,
      closed,
      async unmount() {
        unmounting = true;
        await forceUnmount(spec.merged);
        // Unmounted (lazily, if busy): the server says so once the kernel lets go; hanging up makes sure it lets go.
        const timer = setTimeout(() => served.release(), 5000);
        await served.ended;
        clearTimeout(timer);
        served.release();
      },
    };
  },
};

export const mounters: Record<MounterName, RootfsMounter> = { layerfs: layerfsMounter, kernel: kernelMounter };
