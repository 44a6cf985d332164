/**
 * runBench: every selected workload, on every system that can run, for N
 * repetitions, each on a fresh mount with a fresh upper and work dir over the
 * shared read-only lower tree. Systems are interleaved within a repetition so
 * a change in machine load spreads over all of them rather than one.
 *
 * A system whose first mount fails is reported failed (with the reason) and
 * skipped from then on; a workload that fails on a system fails that cell
 * only. Whatever happens, the mount is taken down before the next step.
 */
import { mkdir, rm, statfs } from 'node:fs/promises';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { PROBE } from './paths.js';
import type { ProbeOp } from './probe.js';
import { dropCaches, run, sync } from './proc.js';
import { median, type BenchResult, type Cell, type SystemName, type SystemStatus, type WorkloadResult } from './results.js';
import { isMounted, makeSystems, systemNamed, unmount, type Layout, type Mounted, type System } from './systems.js';
import { ensureTree, treeBytes, treeName } from './trees.js';
import { fitToDisk } from './disk.js';
import { unpackSource } from './unpack-source.js';
import { workloads, type Env, type Scale, type UnpackSource, type Workload } from './workloads.js';

export interface BenchOptions {
  /** Lower trees and the per-run upper/work/mount dirs live here. */
  workRoot: string;
  /** The tars the unpack workload extracts (default: workRoot/cache). */
  cacheDir?: string;
  systems: SystemName[];
  scale: Scale;
  repetitions: number;
  quick: boolean;
  /** Workload ids to run (all when absent). */
  only?: string[];
  /** debian: debootstrap (falling back to node_modules); node_modules; quick: node_modules/typescript; none: skip the unpack workload. */
  unpack: 'debian' | 'node_modules' | 'quick' | 'none';
  /** Limit for one timed command; a hung filesystem becomes a failed cell. */
  timeoutMs: number;
  notes?: string[];
  /** The layerfs to run (default: the checkout's bin/layerfs.js) and its commit. */
  layerfs?: { bin: string; commit: string };
  log(msg: string): void;
}

/** The mount in progress, so an interrupted run can still take it down. */
let current: { mnt: string; fuse: boolean } | undefined;

export async function cleanupCurrentMount(): Promise<void> {
  if (current && isMounted(current.mnt)) await unmount(current.mnt, current.fuse);
}

function envFor(timeoutMs: number): Env {
  return {
    run: (argv) => run(argv, { timeoutMs }),
    probe: async (op: ProbeOp) => {
      const r = await run([process.execPath, PROBE, JSON.stringify(op)], { timeoutMs });
      return BigInt((JSON.parse(r.stdout) as { ns: string }).ns);
    },
  };
}

async function freshLayout(runDir: string): Promise<Layout> {
  const l = { lower: '', upper: join(runDir, 'upper'), work: join(runDir, 'work'), mnt: join(runDir, 'mnt') };
  if (isMounted(l.mnt)) throw new Error(`${l.mnt} is still mounted from an earlier step`);
  await rm(l.upper, { recursive: true, force: true });
  await rm(l.work, { recursive: true, force: true });
  for (const d of [l.upper, l.work, l.mnt]) await mkdir(d, { recursive: true });
  return l;
}

type Outcome = { kind: 'sample'; value: number } | { kind: 'mount-failed'; reason: string } | { kind: 'failed'; reason: string };

/** One measurement: mount, cache state, untimed preparation, the timed step, unmount. */
async function runOnce(w: Workload, sys: System, lower: string, runDir: string, env: Env): Promise<Outcome> {
  const l = { ...(await freshLayout(runDir)), lower };
  const system = sys.name;
  let m: Mounted;
  try {
    current = { mnt: l.mnt, fuse: system !== 'kernel' && system !== 'native' };
    m = await sys.mount(l, w.writes);
  } catch (err) {
    await cleanupCurrentMount();
    return { kind: 'mount-failed', reason: (err as Error).message };
  }
  try {
    const backing = m.root === l.mnt ? lower : m.root;
    if (w.cache === 'warm' && w.warm) await env.probe({ op: 'readtree', paths: w.warm(backing) });
    if (w.prepare) await w.prepare(m.root, env);
    if (w.cache === 'cold') await dropCaches();
    else await sync();
    const value = await w.measure(m.root, env);
    if (!Number.isFinite(value) || value <= 0) return { kind: 'failed', reason: `measured ${value} ${w.unit}` };
    return { kind: 'sample', value };
  } catch (err) {
    return { kind: 'failed', reason: (err as Error).message };
  } finally {
    await m.unmount();
    current = undefined;
    await rm(l.upper, { recursive: true, force: true });
    await rm(l.work, { recursive: true, force: true });
  }
}

async function systemStatuses(all: readonly System[], names: SystemName[]): Promise<Partial<Record<SystemName, SystemStatus>>> {
  const out: Partial<Record<SystemName, SystemStatus>> = {};
  for (const name of names) {
    try {
      out[name] = { kind: 'ok', version: await systemNamed(all, name).version() };
    } catch (err) {
      out[name] = { kind: 'failed', reason: (err as Error).message };
    }
  }
  return out;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  const startLoad = loadavg();
  const notes = [...(o.notes ?? [])];
  await mkdir(o.workRoot, { recursive: true });
  const fs = await statfs(o.workRoot);
  const fitted = fitToDisk(o.scale, fs.bavail * fs.bsize);
  if (fitted.note) {
    notes.push(fitted.note);
    o.log(fitted.note);
  }

  let unpack: UnpackSource | undefined;
  const wantUnpack = o.unpack !== 'none' && (!o.only || o.only.includes('unpack'));
  if (o.unpack !== 'none' && wantUnpack) {
    const u = await unpackSource(o.cacheDir ?? join(o.workRoot, 'cache'), o.unpack, o.log);
    unpack = u.source;
    notes.push(u.note);
  }
  const selected = workloads(fitted.scale, unpack).filter((w) => !o.only || o.only.includes(w.id));
  if (o.only) {
    const unknown = o.only.filter((id) => !selected.some((w) => w.id === id) && !(id === 'unpack' && !wantUnpack));
    if (unknown.length) throw new Error(`unknown workload(s): ${unknown.join(', ')}`);
  }

  const all = makeSystems(o.layerfs?.bin, o.layerfs?.commit);
  const systems = await systemStatuses(all, o.systems);
  const mountedOnce = new Set<SystemName>();
  const runDir = join(o.workRoot, 'run');
  const env = envFor(o.timeoutMs);
  const results: WorkloadResult[] = [];

  for (const w of selected) {
    const lower = await ensureTree(join(o.workRoot, 'lower'), w.tree, o.log);
    const samples = new Map<SystemName, number[]>();
    const failed = new Map<SystemName, string>();
    const load = loadavg();
    const t0 = Date.now();
    o.log(`${w.id}: ${w.title} [${treeName(w.tree)}, ${(treeBytes(w.tree) / 2 ** 20).toFixed(0)} MiB lower]`);
    for (let rep = 0; rep < o.repetitions; rep++) {
      for (const name of o.systems) {
        const st = systems[name];
        if (st?.kind !== 'ok' || failed.has(name)) continue;
        const out = await runOnce(w, systemNamed(all, name), lower, runDir, env);
        if (out.kind === 'sample') {
          mountedOnce.add(name);
          samples.set(name, [...(samples.get(name) ?? []), out.value]);
          o.log(`  ${name.padEnd(15)} rep ${rep + 1}: ${out.value.toPrecision(4)} ${w.unit}`);
        } else if (out.kind === 'mount-failed' && !mountedOnce.has(name)) {
          systems[name] = { kind: 'failed', reason: `mount failed: ${out.reason}` };
          o.log(`  ${name}: mount failed, skipping it from now on: ${out.reason}`);
        } else {
          failed.set(name, out.reason);
          o.log(`  ${name}: failed: ${out.reason}`);
        }
      }
    }
    o.log(`${w.id}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const cells: Partial<Record<SystemName, Cell>> = {};
    for (const name of o.systems) {
      const st = systems[name];
      const xs = samples.get(name) ?? [];
      const why = failed.get(name) ?? (st?.kind === 'failed' ? st.reason : undefined);
      cells[name] = why !== undefined ? { kind: 'failed', reason: why, samples: xs } : { kind: 'ok', samples: xs, median: median(xs) };
    }
    results.push({ id: w.id, title: w.title, unit: w.unit, better: w.better, cache: w.cache, params: w.params, loadavg: load, results: cells });
  }

  const cpu = cpus();
  return {
    schema: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: o.quick,
    repetitions: o.repetitions,
    host: {
      hostname: hostname(),
      kernel: release(),
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memBytes: totalmem(),
      node: process.version,
      filesystem: (await run(['findmnt', '-n', '-o', 'FSTYPE,OPTIONS', '--target', o.workRoot]).then((r) => r.stdout.trim(), () => 'unknown')),
      loadavg: { start: startLoad, end: loadavg() },
    },
    systems,
    notes,
    workloads: results,
  };
}
