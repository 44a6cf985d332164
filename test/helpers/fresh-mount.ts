/**
 * A fresh overlay for one test row: lower and upper dirs built from specs, then
 * mounted by kernel overlayfs (the oracle), by layerfs on its own engine (the
 * default) or by layerfs on libfuse 2 (`engine=fuse-native`). Every mount goes
 * through ./mounts.ts, so `unmountAll` takes it down even after a failure.
 * Work in the mount happens in child processes: a sync fs call from the
 * process serving a mount would deadlock it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeTree, type TreeSpec } from './tree.js';
import { mountdDir } from '../../src/mountd-paths.js';
import { mountKernel, mountLayerfs } from './mounts.js';

export type Side = 'kernel' | 'layerfs' | 'fuse-native';

export interface Layout {
  lower?: TreeSpec;
  /** Built before the mount (hard links made here are "already there at mount time"). */
  upper?: TreeSpec;
}

export interface Fresh { dir: string; lower: string; upper: string; work: string; mnt: string }

let count = 0;

export async function freshMount(root: string, side: Side, layout: Layout = {}, extra: string[] = []): Promise<Fresh> {
  const dir = join(root, `${count++}-${side}`);
  const f = { dir, lower: join(dir, 'lower'), upper: join(dir, 'upper'), work: join(dir, 'work'), mnt: join(dir, 'mnt') };
  makeTree(f.lower, layout.lower ?? {});
  makeTree(f.upper, layout.upper ?? {});
  mkdirSync(f.work);
  mkdirSync(f.mnt);
  const layers = { lowerdirs: [f.lower], upperdir: f.upper, workdir: f.work };
  if (side === 'kernel') await mountKernel(layers, f.mnt);
  else await mountLayerfs(layers, f.mnt, side === 'fuse-native' ? ['engine=fuse-native', ...extra] : extra);
  return f;
}

/** Runs a Python 3 program in `cwd` (a child process): exit code and output. */
export function py(program: string, cwd: string, args: string[] = []): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('python3', ['-c', program, ...args], { cwd, env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/**
 * The process serving a layerfs mount: a daemon of its own (its command line
 * ends with `mount -f ... MNT`), else the mount server whose ledger
 * (owned-NS-PID in its directory) lists it.
 */
export function daemonPid(mnt: string): number {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone meanwhile
    }
    if (argv.at(-1) === mnt && argv.includes('mount') && argv.includes('-f')) return Number(pid);
  }
  const dir = mountdDir();
  for (const name of readdirSync(dir)) {
    const pid = /^owned-[0-9a-f]+-(\d+)$/.exec(name)?.[1];
    if (pid && readFileSync(join(dir, name), 'utf8').split('\n').includes(mnt)) return Number(pid);
  }
  throw new Error(`no daemon serves ${mnt}`);
}

/** A process's open fds, and those on /dev/fuse. */
export function fdsOf(pid: number): { all: number; fuse: number } {
  const fds = readdirSync(`/proc/${pid}/fd`);
  const targets = fds.map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  return { all: fds.length, fuse: targets.filter((t) => t === '/dev/fuse').length };
}

export function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kb?.[1] ?? 0) * 1024;
}

/** Forgets cached dentries and inodes: the kernel sends FORGET for every FUSE inode it drops. */
export const DROP_CACHES = 'sync; echo 2 > /proc/sys/vm/drop_caches';
