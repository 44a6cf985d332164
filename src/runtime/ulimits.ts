/**
 * `--ulimit NAME=SOFT[:HARD]` and `--shm-size`, as docker takes them: the
 * limits are set by layerfs-init (`-L`, `-S`) before it drops to the user.
 */
import { UsageError } from '../errors.js';
import { parseBytes } from '../store/disk-space.js';

/** docker's names (go-units), to Linux's RLIMIT_* numbers. */
const RESOURCES: Record<string, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9,
  locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
};

export interface Ulimit { Name: string; Soft: number; Hard: number }

/** `nofile=1024:2048`, `nofile=1024` (soft and hard), `-1` or `unlimited` for none; docker's shape (HostConfig.Ulimits). */
export function parseUlimit(spec: string): Ulimit {
  const m = /^([a-z]+)=([^:]+)(?::([^:]+))?$/.exec(spec);
  const num = (v: string) => (v === 'unlimited' || v === '-1' ? -1 : /^\d+$/.test(v) ? Number(v) : NaN);
  const soft = m ? num(m[2]!) : NaN;
  const hard = m ? num(m[3] ?? m[2]!) : NaN;
  if (!m || !(m[1]! in RESOURCES)) throw new UsageError(`invalid --ulimit '${spec}': expected NAME=SOFT[:HARD], NAME one of ${Object.keys(RESOURCES).join(', ')}`);
  if (Number.isNaN(soft) || Number.isNaN(hard)) throw new UsageError(`invalid --ulimit '${spec}': limits are numbers, -1 or unlimited`);
  if (hard !== -1 && (soft === -1 || soft > hard)) throw new UsageError(`invalid --ulimit '${spec}': the soft limit ${soft === -1 ? 'unlimited' : soft} is above the hard limit ${hard}`);
  return { Name: m[1]!, Soft: soft, Hard: hard };
}

/** `--shm-size 256m`: bytes, more than 0 (docker's default is 64 MiB). */
export function parseShmSize(spec: string): number {
  const n = parseBytes(spec, '--shm-size');
  if (n <= 0) throw new UsageError(`invalid --shm-size '${spec}': it must be more than 0`);
  return n;
}

export const ulimitInitArgs = (limits: Ulimit[]): string[] => limits.flatMap((u) => ['-L', `${RESOURCES[u.Name]}:${u.Soft}:${u.Hard}`]);
