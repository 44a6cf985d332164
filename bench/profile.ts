/**
 * `node bench/dist/profile.js WORKLOAD [--quick] [--out DIR]`: runs one
 * workload once on layerfs with the daemon in the foreground under
 * `node --cpu-prof`, then says where the daemon's CPU time went: the top
 * functions by self time and by inclusive time. The .cpuprofile is kept
 * (open it in Chrome DevTools) under bench/work/profiles/ by default.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { summarize, type CpuProfile } from './cpu-profile.js';
import { DEFAULT_WORK, LAYERFS_BIN, PROBE } from './paths.js';
import { dropCaches, run, sync } from './proc.js';
import { isMounted, unmount } from './systems.js';
import { ensureTree } from './trees.js';
import { unpackSource } from './unpack-source.js';
import { FULL, QUICK, workloads, type Env } from './workloads.js';

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (cond()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } }, allowPositionals: true });
  const id = positionals[0];
  const scale = values.quick ? QUICK : FULL;
  const needsUnpack = id === 'unpack';
  const log = (m: string) => process.stderr.write(`profile: ${m}\n`);
  const unpack = needsUnpack ? (await unpackSource(join(DEFAULT_WORK, 'cache'), values.quick ? 'quick' : 'debian', log)).source : undefined;
  const w = workloads(scale, unpack).find((x) => x.id === id);
  if (!w) throw new Error(`usage: profile.js WORKLOAD [--quick]; known: ${workloads(scale, undefined).map((x) => x.id).join(', ')}, unpack`);

  const lower = await ensureTree(join(DEFAULT_WORK, 'lower'), w.tree, log);
  const dir = join(DEFAULT_WORK, 'profile-run');
  const l = { lower, upper: join(dir, 'upper'), work: join(dir, 'work'), mnt: join(dir, 'mnt') };
  const outDir = values.out ?? join(DEFAULT_WORK, 'profiles', `${w.id}-${Date.now()}`);
  await rm(dir, { recursive: true, force: true });
  for (const d of [l.upper, l.work, l.mnt, outDir]) await mkdir(d, { recursive: true });

  const daemon = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${outDir}`, LAYERFS_BIN, 'mount', '-f', '-o',
    `lowerdir=${l.lower},upperdir=${l.upper},workdir=${l.work}`, l.mnt], { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((r) => daemon.on('exit', () => r()));
  const env: Env = {
    run: (argv) => run(argv, { timeoutMs: 600_000 }),
    probe: async (op) => BigInt((JSON.parse((await run([process.execPath, PROBE, JSON.stringify(op)], { timeoutMs: 600_000 })).stdout) as { ns: string }).ns),
  };
  let value: number;
  try {
    await waitFor(() => isMounted(l.mnt), 30_000, `layerfs to mount ${l.mnt}`);
    if (w.cache === 'warm' && w.warm) await env.probe({ op: 'readtree', paths: w.warm(lower) });
    if (w.prepare) await w.prepare(l.mnt, env);
    if (w.cache === 'cold') await dropCaches();
    else await sync();
    value = await w.measure(l.mnt, env);
  } finally {
    await unmount(l.mnt, true);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    await rm(dir, { recursive: true, force: true });
  }
  const file = (await readdir(outDir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${outDir} (did the daemon exit cleanly?)`);
  const s = summarize(JSON.parse(await readFile(join(outDir, file), 'utf8')) as CpuProfile);
  const rows = (xs: [string, number][]) => xs.slice(0, 20).map(([n, ms]) => `  ${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / s.totalMs).toFixed(1).padStart(5)}%  ${n}`);
  process.stdout.write([
    `${w.id}: ${value.toPrecision(4)} ${w.unit} on layerfs under --cpu-prof; daemon profile ${s.totalMs.toFixed(0)} ms`,
    `profile: ${join(outDir, file)}`, '', 'self time:', ...rows(s.self), '', 'inclusive time:', ...rows(s.inclusive), '',
  ].join('\n'));
}

try {
  await main();
} catch (err) {
  process.stderr.write(`profile: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
