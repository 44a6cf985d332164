/**
 * The filesystems under comparison, each able to say whether it can run here
 * (its version) and to mount one lower tree under a fresh upper dir. The
 * native directory is the reference: it works on a private copy of the lower
 * tree whenever a workload writes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { LAYERFS_BIN } from './paths.js';
import { run } from './proc.js';
import type { SystemName } from './results.js';

export interface Layout { lower: string; upper: string; work: string; mnt: string }

export interface Mounted {
  /** Where the workload runs: the mount point, or the native directory. */
  root: string;
  unmount(): Promise<void>;
}

export interface System {
  name: SystemName;
  /** The version that runs, or a rejection saying why this system cannot. */
  version(): Promise<string>;
  mount(l: Layout, writes: boolean): Promise<Mounted>;
}

const MOUNT_TIMEOUT_MS = 30_000;

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';

/** major:minor of the filesystem mounted at `mnt`, read without touching the mount (it may hang). */
function mountDevice(mnt: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === mnt) return f[2];
  }
  return undefined;
}

export const isMounted = (mnt: string) => mountDevice(mnt) !== undefined;

/**
 * Unmounts, retrying while a closing process keeps it busy. A FUSE server that
 * stopped answering is cut off through its connection's abort file (the
 * connection number is the device minor) so the run never leaves a mount behind.
 */
export async function unmount(mnt: string, fuse: boolean): Promise<void> {
  for (let i = 0; i < 20 && isMounted(mnt); i++) {
    try {
      await run(['umount', mnt], { timeoutMs: 10_000 });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!isMounted(mnt)) return;
  const minor = mountDevice(mnt)?.split(':')[1];
  const abort = `/sys/fs/fuse/connections/${minor}/abort`;
  if (fuse && minor && existsSync(abort)) await run(['sh', '-c', `echo 1 > ${abort}`]).catch(() => {});
  await run(['umount', '-l', mnt]);
}

function fuseMount(name: SystemName, argv: (l: Layout) => string[], version: () => Promise<string>): System {
  return {
    name,
    version,
    async mount(l) {
      await run(argv(l), { timeoutMs: MOUNT_TIMEOUT_MS });
      if (!isMounted(l.mnt)) throw new Error(`${name}: command exited 0 but ${l.mnt} is not mounted`);
      return { root: l.mnt, unmount: () => unmount(l.mnt, true) };
    },
  };
}

const overlayOpts = (l: Layout) => `lowerdir=${l.lower},upperdir=${l.upper},workdir=${l.work}`;

const native: System = {
  name: 'native',
  version: async () => `${release()} (plain directory)`,
  async mount(l, writes) {
    if (!writes) return { root: l.lower, unmount: async () => {} };
    await run(['cp', '-a', `${l.lower}/.`, l.upper]);
    return { root: l.upper, unmount: async () => {} };
  },
};

const kernel: System = {
  name: 'kernel',
  version: async () => `overlayfs, Linux ${release()}`,
  async mount(l) {
    // The features fuse-overlayfs lacks are off, so both implement the same thing.
    const opts = `${overlayOpts(l)},redirect_dir=off,index=off,metacopy=off,xino=off`;
    await run(['mount', '-t', 'overlay', 'overlay', '-o', opts, l.mnt], { timeoutMs: MOUNT_TIMEOUT_MS });
    return { root: l.mnt, unmount: () => unmount(l.mnt, false) };
  },
};

const fuseOverlayfs = fuseMount(
  'fuse-overlayfs',
  (l) => ['fuse-overlayfs', '-o', overlayOpts(l), l.mnt],
  async () => firstLine((await run(['fuse-overlayfs', '--version'])).stdout.split('\n').find((s) => s.startsWith('fuse-overlayfs')) ?? ''),
);

const unionfs = fuseMount(
  'unionfs-fuse',
  // unionfs-fuse has no workdir; its whiteouts live in UPPER/.unionfs-fuse.
  (l) => ['unionfs', '-o', 'cow,allow_other,use_ino,suid,dev', `${l.upper}=RW:${l.lower}=RO`, l.mnt],
  async () => {
    const r = await run(['unionfs', '--version']);
    const line = (r.stdout + r.stderr).split('\n').find((l) => /^unionfs/i.test(l)) ?? 'unionfs-fuse (version unknown)';
    return line.trim();
  },
);

/** layerfs from `bin` (the checkout's by default, or a snapshot of one commit); `extra` mount options. */
function layerfs(bin: string, commit?: string, name: SystemName = 'layerfs', extra = ''): System {
  return fuseMount(
    name,
    (l) => [process.execPath, bin, 'mount', '-o', overlayOpts(l) + extra, l.mnt],
    async () => {
      const v = firstLine((await run([process.execPath, bin, '--version'], { timeoutMs: 20_000 })).stdout);
      return `layerfs ${v}${commit ? ` (commit ${commit})` : ` (${bin})`}`;
    },
  );
}

export function makeSystems(layerfsBin = LAYERFS_BIN, commit?: string): readonly System[] {
  return [
    native, kernel, fuseOverlayfs, unionfs, layerfs(layerfsBin, commit), layerfs(layerfsBin, commit, 'layerfs-metacopy', ',metacopy=on'),
    layerfs(layerfsBin, commit, 'layerfs-fuse-native', ',engine=fuse-native'),
  ];
}

export function systemNamed(systems: readonly System[], name: string): System {
  const s = systems.find((x) => x.name === name);
  if (!s) throw new Error(`unknown system ${name} (known: ${systems.map((x) => x.name).join(', ')})`);
  return s;
}
