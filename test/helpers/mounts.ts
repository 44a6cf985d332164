/**
 * Real mounts for tests: kernel overlayfs (the oracle) and layerfs through its
 * own command line (a real daemon). Every mount is recorded so that
 * `unmountAll` can take it down even when a test failed half way.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatMountOptions } from '../../src/mount-options.js';

const run = promisify(execFile);
export const LAYERFS_BIN = fileURLToPath(new URL('../../bin/layerfs.js', import.meta.url));
const live = new Set<string>();

export interface Layers { lowerdirs: string[]; upperdir?: string; workdir?: string }

export const overlayOptions = (l: Layers): string => formatMountOptions(l);

/**
 * Kernel overlayfs with the features fuse-overlayfs also lacks turned off.
 * `metacopy` turns on metadata-only copy-up, which needs redirect_dir=on.
 */
export async function mountKernel(l: Layers, mnt: string, opts: { metacopy?: boolean } = {}): Promise<void> {
  const metacopy = opts.metacopy ? 'redirect_dir=on,metacopy=on' : 'redirect_dir=off,metacopy=off';
  const features = l.upperdir ? `,${metacopy},index=off,xino=off` : '';
  await run('mount', ['-t', 'overlay', 'overlay', '-o', overlayOptions(l) + features, mnt]);
  live.add(mnt);
}

export async function mountLayerfs(l: Layers, mnt: string, extra: string[] = []): Promise<void> {
  await run(process.execPath, [LAYERFS_BIN, 'mount', '-o', [overlayOptions(l), ...extra].join(','), mnt]);
  live.add(mnt);
}

/** Records a mount made some other way, so unmountAll takes it down too. */
export function track(mnt: string): void {
  live.add(mnt);
}

export function isMounted(mnt: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === mnt);
}

export async function unmount(mnt: string): Promise<void> {
  live.delete(mnt);
  for (let i = 0; i < 50 && isMounted(mnt); i++) {
    try {
      await run('umount', [mnt]);
    } catch {
      await new Promise((r) => setTimeout(r, 100)); // busy: a process may still be closing a file
    }
  }
  if (isMounted(mnt)) await run('umount', ['-l', mnt]);
}

export async function unmountAll(): Promise<void> {
  for (const mnt of [...live].reverse()) await unmount(mnt);
}

/** Runs a shell script in `cwd` as the given uid (default root): exit code and output. */
export async function sh(script: string, cwd: string, uid?: number): Promise<{ code: number; out: string }> {
  const argv = uid === undefined ? ['sh', '-c', script] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', script];
  try {
    const r = await run(argv[0]!, argv.slice(1), { cwd, env: { PATH: process.env.PATH, LC_ALL: 'C' } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}
