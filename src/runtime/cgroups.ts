/**
 * A cgroup per container, `layerfs/<id>` under each hierarchy that has a
 * controller we use, on whatever layout the host has: each controller is
 * taken from its v1 hierarchy when one is mounted, from the v2 (unified)
 * hierarchy when it is enabled there. A hybrid host (v1 controllers, an
 * empty v2) thus gets v1 dirs only; a pure v2 host gets one v2 dir.
 *
 * layerfs-init moves itself into the dirs before it forks the command, so
 * the command is limited from its first instruction.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LayerfsError } from '../errors.js';
import { cgroupDeviceFilter, type DeviceRule } from '../sys.js';

export interface ResourceLimits {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap, bytes; -1 is unlimited. Default with --memory: twice it (docker's). */
  memorySwap?: number;
  /** CPUs (0.5: half of one). */
  cpus?: number;
  /** Relative weight, docker's scale (1024 is the default). */
  cpuShares?: number;
  /** Most tasks; -1 or 0 is unlimited. */
  pidsLimit?: number;
}

type Controller = 'memory' | 'pids' | 'cpu' | 'cpuacct' | 'cpuset' | 'blkio' | 'devices' | 'freezer';
const CONTROLLERS: Controller[] = ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer'];
// v2 names: cpuacct is part of cpu, blkio is io, devices and freezer are not controllers.
const V2_NAME: Partial<Record<Controller, string>> = { memory: 'memory', pids: 'pids', cpu: 'cpu', cpuset: 'cpuset', blkio: 'io' };

export interface CgroupLayout {
  /** v1 hierarchy mount point per controller. */
  v1: Partial<Record<Controller, string>>;
  /** The v2 mount point and the controllers enabled at its root, if mounted. */
  v2?: { path: string; controllers: string[] };
}

/** Reads the layout from /proc/self/mountinfo. */
export function detectLayout(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupLayout {
  const layout: CgroupLayout = { v1: {} };
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts = ''] = post.split(' ');
    const mountPoint = pre.split(' ')[4]!;
    if (fstype === 'cgroup') {
      for (const opt of superOpts.split(',')) if ((CONTROLLERS as string[]).includes(opt)) layout.v1[opt as Controller] ??= mountPoint;
    } else if (fstype === 'cgroup2' && !layout.v2) {
      let controllers: string[] = [];
      try {
        controllers = readFileSync(join(mountPoint, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
      } catch {
        // not readable: no controllers
      }
      layout.v2 = { path: mountPoint, controllers };
    }
  }
  return layout;
}

/** Docker's default device rules (runc's AllowedDevices): mknod of anything, open of the nodes it creates. */
export const DEFAULT_DEVICE_RULES = [
  'c *:* m', 'b *:* m',
  'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', // null zero full random urandom
  'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm', // tty console ptmx pts
  'c 10:200 rwm', // net/tun
];

/** A rule in the v2 program's terms: `c 136:* rwm` → char, 136, any, mknod|read|write. */
export function deviceRule(rule: string): DeviceRule {
  const [type = '', dev = '', access = ''] = rule.split(' ');
  const [major = '*', minor = '*'] = dev.split(':');
  const num = (n: string) => (n === '*' ? -1 : Number(n));
  const bits = (access.includes('m') ? 1 : 0) | (access.includes('r') ? 2 : 0) | (access.includes('w') ? 4 : 0);
  return { type: type === 'b' ? 1 : type === 'c' ? 2 : 0, major: num(major), minor: num(minor), access: bits };
}

export interface ContainerCgroup {
  /** The dirs layerfs-init joins (`-c`). */
  readonly dirs: string[];
  /** Whether the kernel's OOM killer killed a process of the container. */
  oomKilled(): Promise<boolean>;
  remove(): Promise<void>;
}

const write = (dir: string, file: string, value: string | number) =>
  writeFile(join(dir, file), String(value)).catch((err: NodeJS.ErrnoException) => {
    throw new LayerfsError('CGROUP_FAILED', `cgroup: writing '${value}' to ${join(dir, file)}: ${err.message}`, { dir, file });
  });

async function makeDir(parent: string, id: string, v2: boolean, controllers: string[]): Promise<string> {
  const top = join(parent, 'layerfs');
  await mkdir(top, { recursive: true });
  if (v2 && controllers.length > 0) {
    // A v2 child can use only what its parent delegates.
    const enable = controllers.map((c) => `+${c}`).join(' ');
    await write(parent, 'cgroup.subtree_control', enable);
    await write(top, 'cgroup.subtree_control', enable);
  }
  const dir = join(top, id);
  await mkdir(dir);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  // The last process may still be leaving: rmdir fails with EBUSY for a moment.
  for (let i = 0; ; i++) {
    try {
      return await rmdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Where a container's cgroup dirs are (they may not exist). */
export function cgroupDirs(id: string, layout = detectLayout()): string[] {
  const v1 = [...new Set(Object.values(layout.v1))].map((m) => join(m, 'layerfs', id));
  const needV2 = layout.v2 && (!layout.v1.devices || CONTROLLERS.some((c) => !layout.v1[c] && layout.v2!.controllers.includes(V2_NAME[c] ?? '')));
  return needV2 ? [...v1, join(layout.v2!.path, 'layerfs', id)] : v1;
}

/** Removes a container's cgroup dirs, if any (after its processes are gone). */
export async function removeCgroup(id: string): Promise<void> {
  for (const d of cgroupDirs(id)) await removeDir(d);
}

/**
 * Creates the container's cgroup and writes its limits. `devices` restricts
 * device access to these rules (DEFAULT_DEVICE_RULES and the `--device`s;
 * null for --privileged: no restriction).
 */
export async function createCgroup(id: string, limits: ResourceLimits, devices: readonly string[] | null, layout = detectLayout()): Promise<ContainerCgroup> {
  const v2 = layout.v2;
  const v2Used = CONTROLLERS.filter((c) => !layout.v1[c] && v2?.controllers.includes(V2_NAME[c] ?? '')).map((c) => V2_NAME[c]!);
  const made: string[] = [];
  const at: Partial<Record<Controller, { dir: string; v2: boolean }>> = {};
  try {
    for (const mountPoint of new Set(Object.values(layout.v1))) {
      const dir = await makeDir(mountPoint, id, false, []);
      made.push(dir);
      for (const c of CONTROLLERS) if (layout.v1[c] === mountPoint) at[c] = { dir, v2: false };
    }
    // v2 has no devices controller: a device program on the container's v2 dir does its work.
    if (v2 && (v2Used.length > 0 || !layout.v1.devices)) {
      const dir = await makeDir(v2.path, id, true, v2Used);
      made.push(dir);
      for (const c of CONTROLLERS) if (!at[c] && v2Used.includes(V2_NAME[c] ?? '')) at[c] = { dir, v2: true };
      at.devices ??= { dir, v2: true };
    }
    await applyLimits(at, limits, devices, layout);
  } catch (err) {
    for (const d of made.reverse()) await removeDir(d).catch(() => {});
    throw err;
  }
  const memory = at.memory;
  return {
    dirs: made,
    async oomKilled() {
      if (!memory) return false;
      const text = await readFile(join(memory.dir, memory.v2 ? 'memory.events' : 'memory.oom_control'), 'utf8').catch(() => '');
      const kills = /^oom_kill (\d+)$/m.exec(text);
      return kills !== null && Number(kills[1]) > 0;
    },
    async remove() {
      for (const d of [...made].reverse()) await removeDir(d);
    },
  };
}

function need(at: { dir: string; v2: boolean } | undefined, flag: string, controller: string): { dir: string; v2: boolean } {
  if (!at) throw new LayerfsError('CGROUP_FAILED', `${flag} needs the ${controller} cgroup controller, which this host does not have`);
  return at;
}

async function applyLimits(
  at: Partial<Record<Controller, { dir: string; v2: boolean }>>, l: ResourceLimits, devices: readonly string[] | null, layout: CgroupLayout,
): Promise<void> {
  if (at.cpuset && !at.cpuset.v2) {
    // A v1 cpuset cgroup starts empty and refuses tasks until given cpus and mems: take the parent's.
    const root = layout.v1.cpuset!;
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const value = (await readFile(join(root, f), 'utf8')).trim();
      await write(join(root, 'layerfs'), f, value);
      await write(at.cpuset.dir, f, value);
    }
  }
  if (l.memory !== undefined) {
    const m = need(at.memory, '--memory', 'memory');
    const swap = l.memorySwap ?? l.memory * 2;
    if (m.v2) {
      await write(m.dir, 'memory.max', l.memory);
      await write(m.dir, 'memory.swap.max', swap < 0 ? 'max' : swap - l.memory);
    } else {
      await write(m.dir, 'memory.limit_in_bytes', l.memory);
      // Without swap accounting there is no memsw file; the limit is memory alone then.
      await write(m.dir, 'memory.memsw.limit_in_bytes', swap < 0 ? -1 : swap).catch((err: LayerfsError) => {
        if (!/ENOENT/.test(err.message)) throw err;
      });
    }
  }
  if (l.cpus !== undefined) {
    const c = need(at.cpu, '--cpus', 'cpu');
    const period = 100000;
    const quota = Math.round(l.cpus * period);
    if (c.v2) await write(c.dir, 'cpu.max', `${quota} ${period}`);
    else {
      await write(c.dir, 'cpu.cfs_period_us', period);
      await write(c.dir, 'cpu.cfs_quota_us', quota);
    }
  }
  if (l.cpuShares !== undefined) {
    const c = need(at.cpu, '--cpu-shares', 'cpu');
    // runc's conversion of shares (2..262144) to a v2 weight (1..10000).
    if (c.v2) await write(c.dir, 'cpu.weight', Math.round(1 + ((l.cpuShares - 2) * 9999) / 262142));
    else await write(c.dir, 'cpu.shares', l.cpuShares);
  }
  if (l.pidsLimit !== undefined && l.pidsLimit > 0) await write(need(at.pids, '--pids-limit', 'pids').dir, 'pids.max', l.pidsLimit);
  if (devices && at.devices?.v2) {
    try {
      cgroupDeviceFilter(at.devices.dir, devices.map(deviceRule));
    } catch (err) {
      throw new LayerfsError('CGROUP_FAILED', `cgroup: attaching the device program to ${at.devices.dir}: ${(err as Error).message}`);
    }
  } else if (devices && at.devices) {
    await write(at.devices.dir, 'devices.deny', 'a');
    for (const rule of devices) await write(at.devices.dir, 'devices.allow', rule);
  }
}

/**
 * Runs `fn` with the container's processes frozen, as docker pauses a
 * container for `cp`: none of them can swap a directory for a symlink while
 * the host walks its tree. Thawed afterwards, and on SIGINT or SIGTERM
 * before we exit (a container left frozen would hang). With no freezer
 * (v1 hierarchy or v2 cgroup.freeze), `fn` runs as it is.
 */
export async function whileFrozen<T>(id: string, fn: () => Promise<T>, layout = detectLayout()): Promise<T> {
  const v1 = layout.v1.freezer !== undefined ? join(layout.v1.freezer, 'layerfs', id) : undefined;
  const v2 = v1 === undefined && layout.v2 ? join(layout.v2.path, 'layerfs', id) : undefined;
  const [file, frozen, thawed] = v1 !== undefined ? [join(v1, 'freezer.state'), 'FROZEN', 'THAWED'] : [join(v2 ?? '', 'cgroup.freeze'), '1', '0'];
  if (!existsSync(file)) return fn();
  const thaw = () => writeFileSync(file, thawed);
  const onSignal = (sig: NodeJS.Signals) => {
    thaw();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await writeFile(file, frozen);
    // v1 reads FREEZING until every task stopped; v2 says it in cgroup.events.
    const done = () => (v1 !== undefined ? readFileSync(file, 'utf8').trim() === 'FROZEN' : /^frozen 1$/m.test(readFileSync(join(v2!, 'cgroup.events'), 'utf8')));
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    if (!done()) throw new LayerfsError('CGROUP_FAILED', `cgroup: container ${id.slice(0, 12)} did not freeze within 2 s`, { file });
    return await fn();
  } finally {
    thaw();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
