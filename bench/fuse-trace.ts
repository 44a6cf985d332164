/**
 * `node bench/dist/fuse-trace.js WORKLOAD [--systems a,b] [--quick] [--disk image|host]`:
 * runs one workload once per FUSE system and counts what the kernel sent the
 * daemon, from the kernel's own `fuse:fuse_request_send` / `fuse_request_end`
 * tracepoints (Linux 6.16+, tracefs): requests by opcode, per file of the
 * workload, and each opcode's mean time from queued to answered. Also the
 * daemon's context switches over the measurement. Counts do not depend on
 * machine load, unlike the bench's timings; the times do.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mountBenchDisk } from './bench-disk.js';
import { DEFAULT_WORK, PROBE } from './paths.js';
import { dropCaches, run, sync } from './proc.js';
import { makeSystems, systemNamed, type System } from './systems.js';
import { ensureTree } from './trees.js';
import { FULL, QUICK, workloads, type Env, type Workload } from './workloads.js';

const TRACING = '/sys/kernel/tracing';
const INSTANCE = join(TRACING, 'instances', 'layerfs-fuse-trace');

interface OpStat { count: number; ns: number }

async function traceOn(): Promise<void> {
  if (!existsSync(join(TRACING, 'instances'))) await run(['mount', '-t', 'tracefs', 'nodev', TRACING]);
  if (!existsSync(join(TRACING, 'events', 'fuse', 'fuse_request_send'))) throw new Error('this kernel has no fuse tracepoints (Linux 6.16+)');
  await mkdir(INSTANCE, { recursive: true });
  await writeFile(join(INSTANCE, 'buffer_size_kb'), '131072');
  await writeFile(join(INSTANCE, 'trace'), '');
  await writeFile(join(INSTANCE, 'events', 'fuse', 'enable'), '1');
}

async function traceOff(): Promise<string> {
  await writeFile(join(INSTANCE, 'events', 'fuse', 'enable'), '0');
  const text = await readFile(join(INSTANCE, 'trace'), 'utf8');
  await rm(INSTANCE, { recursive: true }).catch(() => {});
  return text;
}

/** The kernel's dev_t of a mount (MKDEV: major << 20 | minor), as the tracepoints print it. */
function connectionOf(path: string): number {
  const dev = statSync(path).dev;
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  return major * 2 ** 20 + minor;
}

const LINE = /\s(\d+\.\d+): fuse_request_(send|end): connection (\d+) req (\d+) (?:opcode \d+ \((\w+)\)|len)/;

function summarize(trace: string, connection: number): Map<string, OpStat> {
  const sent = new Map<string, { op: string; at: number }>();
  const ops = new Map<string, OpStat>();
  for (const line of trace.split('\n')) {
    const m = LINE.exec(line);
    if (!m || Number(m[3]) !== connection) continue;
    const at = Number(m[1]) * 1e9;
    if (m[2] === 'send') {
      sent.set(m[4]!, { op: m[5]!.replace(/^FUSE_/, ''), at });
      continue;
    }
    const s = sent.get(m[4]!);
    if (!s) continue;
    sent.delete(m[4]!);
    const o = ops.get(s.op) ?? { count: 0, ns: 0 };
    o.count++;
    o.ns += at - s.at;
    ops.set(s.op, o);
  }
  // FORGET and BATCH_FORGET take no answer: count them as sent.
  for (const s of sent.values()) {
    const o = ops.get(s.op) ?? { count: 0, ns: 0 };
    o.count++;
    ops.set(s.op, o);
  }
  return ops;
}

/**
 * `strace -f -c` attached to the daemon (it slows the daemon a lot: count
 * with it, never time); the returned function stops it and gives its table.
 */
async function straceOn(pid: number): Promise<() => Promise<string>> {
  const out = `/tmp/fuse-trace-strace-${pid}.txt`;
  const child = spawn('strace', ['-f', '-c', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await new Promise((r) => setTimeout(r, 1000)); // attached to every thread
  return async () => {
    child.kill('SIGINT');
    await exited;
    const text = await readFile(out, 'utf8');
    await rm(out, { force: true });
    return text;
  };
}

/** The process serving /dev/fuse whose command line names `mnt` (or its mount server's directory). */
function daemonPid(mnt: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(mnt)) continue;
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/fuse')) return Number(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** User + system CPU seconds of the process, all threads. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Voluntary and involuntary context switches of all the process's threads. */
function switches(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) n += Number(m[1]);
  }
  return n;
}

interface Measured { value: number; ops: Map<string, OpStat>; cs: number; cpu: number; syscalls: string }

/** One measurement of `w` on a fresh mount of `system`, traced. */
async function measureOnce(system: System, w: Workload, lower: string, base: string, env: Env, strace: boolean): Promise<Measured> {
  const dir = join(base, 'trace-run');
  const l = { lower, upper: join(dir, 'upper'), work: join(dir, 'work'), mnt: join(dir, 'mnt') };
  await rm(dir, { recursive: true, force: true });
  for (const d of [l.upper, l.work, l.mnt]) await mkdir(d, { recursive: true });
  // layerfs hands a mount to its build's mount server: a fresh one for each
  // measurement, started with this process's environment (LAYERFS_FUSE_*).
  const mountd = join(tmpdir(), `fuse-trace-mountd-${process.pid}-${Date.now()}`);
  process.env.LAYERFS_MOUNTD_DIR = mountd;
  const m = await system.mount(l, w.writes);
  try {
    if (w.cache === 'warm' && w.warm) await env.probe({ op: 'readtree', paths: w.warm(lower) });
    if (w.prepare) await w.prepare(m.root, env);
    if (w.cache === 'cold') await dropCaches();
    else await sync();
    const connection = connectionOf(m.root);
    const pid = daemonPid(l.mnt) ?? daemonPid(mountd);
    const cs0 = switches(pid);
    const cpu0 = cpuSeconds(pid);
    const tracer = strace && pid !== undefined ? await straceOn(pid) : undefined;
    await traceOn();
    let value: number;
    let ops: Map<string, OpStat>;
    try {
      value = await w.measure(m.root, env);
    } finally {
      ops = summarize(await traceOff(), connection);
    }
    const cs = switches(pid) - cs0;
    const cpu = cpuSeconds(pid) - cpu0;
    return { value, ops, cs, cpu, syscalls: tracer ? await tracer() : '' };
  } finally {
    await m.unmount();
    await rm(dir, { recursive: true, force: true });
    // The server leaves 10 s after its last mount; its directory can go now.
    await rm(mountd, { recursive: true, force: true });
  }
}

function report(label: string, w: Workload, files: number, runs: Measured[]): string {
  const values = runs.map((r) => r.value).sort((a, b) => a - b);
  const median = values[Math.floor(values.length / 2)]!;
  const r = runs[0]!;
  const total = [...r.ops.values()].reduce((n, o) => n + o.count, 0);
  const rows = [...r.ops.entries()].sort((a, b) => b[1].count - a[1].count)
    .map(([op, o]) => `  ${op.padEnd(12)} ${String(o.count).padStart(7)}  ${(o.count / files).toFixed(2).padStart(6)}/file  ${o.ns ? (o.ns / o.count / 1000).toFixed(1).padStart(7) + ' µs' : ''}`);
  const cs = runs.reduce((n, x) => n + x.cs, 0) / runs.length;
  const cpu = runs.reduce((n, x) => n + x.cpu, 0) / runs.length;
  return `${label}: ${w.id} median ${median.toPrecision(4)} ${w.unit} of [${values.map((v) => v.toPrecision(4)).join(', ')}]\n`
    + `  requests     ${String(total).padStart(7)}  ${(total / files).toFixed(2).padStart(6)}/file (first run; times: queued to answered)\n${rows.join('\n')}\n`
    + `  daemon context switches ${(cs / total).toFixed(2)}/request, CPU ${(cpu / total * 1e6).toFixed(1)} µs/request (mean of runs)\n${r.syscalls}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      systems: { type: 'string', default: 'fuse-overlayfs,layerfs,layerfs-fuse-native' },
      disk: { type: 'string', default: 'image' },
      reps: { type: 'string', default: '1' },
      strace: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const scale = values.quick ? QUICK : FULL;
  const w = workloads(scale, undefined).find((x) => x.id === positionals[0]);
  if (!w) throw new Error(`usage: fuse-trace.js WORKLOAD; known: ${workloads(scale, undefined).map((x) => x.id).join(', ')}`);
  const log = (m: string) => process.stderr.write(`fuse-trace: ${m}\n`);
  // `layerfs=BIN`: the layerfs engine from another checkout's bin/layerfs.js, to compare two builds.
  const systems = values.systems.split(',').map((spec) => {
    const [name, bin] = spec.split('=');
    return { label: spec, system: systemNamed(makeSystems(bin), name!) };
  });
  const disk = values.disk === 'host' ? undefined : await mountBenchDisk(DEFAULT_WORK, log);
  const base = disk?.root ?? DEFAULT_WORK;
  const env: Env = {
    run: (argv) => run(argv, { timeoutMs: 600_000 }),
    probe: async (op) => BigInt((JSON.parse((await run([process.execPath, PROBE, JSON.stringify(op)], { timeoutMs: 600_000 })).stdout) as { ns: string }).ns),
  };
  const files = Number(w.params.files ?? 1);
  try {
    const lower = await ensureTree(join(base, 'lower'), w.tree, log);
    const runs = new Map<string, Measured[]>(systems.map((s) => [s.label, []]));
    const loads: string[] = [];
    // Repetitions interleave the systems, so a change in machine load is spread over all of them.
    for (let rep = 0; rep < Number(values.reps); rep++) {
      for (const s of systems) {
        loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!);
        runs.get(s.label)!.push(await measureOnce(s.system, w, lower, base, env, values.strace));
      }
    }
    for (const s of systems) process.stdout.write(report(s.label, w, files, runs.get(s.label)!));
    process.stdout.write(`load (1 min) before each run: ${loads.join(' ')}\n`);
  } finally {
    await disk?.release();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fuse-trace: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
