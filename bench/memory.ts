/**
 * Memory per mount (issue #11): mounts N overlays (default 20) of one small
 * lower tree, each over its own upper, and reports the resident memory (RSS,
 * from /proc/PID/status) of every process serving them, for
 *   - layerfs: its mount server (one process for all),
 *   - layerfs-own: `-o daemon=own` (one process per mount, as before the server),
 *   - fuse-overlayfs: one process per mount;
 * the total, and the cost of each further mount ((RSS with N - RSS with 1) / (N - 1)).
 * Then it runs OPS operations (create, stat, chmod, unlink of new files, in
 * that order, in a child process) on one mount and reports RSS at each
 * quarter: a leak per operation shows as growth. RSS does not depend on the
 * machine's load, so this can run while others work.
 *
 *   tsc -p bench/tsconfig.json && sudo node bench/dist/memory.js [--mounts 20] [--ops 100000] [--systems layerfs,fuse-overlayfs]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LAYERFS_BIN } from './paths.js';
import { isMounted, unmount } from './systems.js';

interface Overlay { upper: string; work: string; mnt: string }
interface Serving {
  mount(o: Overlay): void;
  /** The pids serving the mounts made so far. */
  pids(mounts: Overlay[]): number[];
}

const { values } = parseArgs({
  options: {
    mounts: { type: 'string', default: '20' },
    ops: { type: 'string', default: '100000' },
    systems: { type: 'string', default: 'layerfs,layerfs-own,fuse-overlayfs' },
  },
});
const MOUNTS = Number(values.mounts);
const OPS = Number(values.ops);
const work = mkdtempSync(join(tmpdir(), 'layerfs-memory-'));
const lower = join(work, 'lower');
mkdirSync(join(lower, 'etc'), { recursive: true });
for (let i = 0; i < 100; i++) writeFileSync(join(lower, 'etc', `f${i}`), `file ${i}\n`);
const mountdDir = join(work, 'mountd');
mkdirSync(mountdDir, { mode: 0o700 });
const env = { ...process.env, LAYERFS_MOUNTD_DIR: mountdDir };
const opts = (o: Overlay) => `lowerdir=${lower},upperdir=${o.upper},workdir=${o.work}`;

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** CPU seconds (user + system) a process has used; clock ticks are 1/100 s on Linux. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Processes whose command line mentions `text` (and `also`). */
function pidsMentioning(text: string, also: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(text) && cmd.includes(also)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const systems: Record<string, Serving> = {
  layerfs: {
    mount: (o) => void execFileSync(process.execPath, [LAYERFS_BIN, 'mount', '-o', opts(o), o.mnt], { env }),
    pids: () => readdirSync(mountdDir).flatMap((n) => /^owned-[0-9a-f]+-(\d+)$/.exec(n)?.[1] ?? []).map(Number),
  },
  'layerfs-own': {
    mount: (o) => void execFileSync(process.execPath, [LAYERFS_BIN, 'mount', '-o', `${opts(o)},daemon=own`, o.mnt], { env }),
    pids: (ms) => ms.flatMap((o) => pidsMentioning(`${o.mnt}\0`, 'mount\0-f')),
  },
  'fuse-overlayfs': {
    mount: (o) => void execFileSync('fuse-overlayfs', ['-o', opts(o), o.mnt]),
    pids: (ms) => ms.flatMap((o) => pidsMentioning(`${o.mnt}\0`, 'fuse-overlayfs')),
  },
};

/** create, stat, chmod, unlink: four operations per new file, in a child (never the process serving the mount). */
const OPS_SCRIPT = `
const fs = require('fs'); const [dir, n] = [process.argv[1], +process.argv[2]];
for (let i = 0; i < n / 4; i++) {
  const p = dir + '/n' + i; fs.writeFileSync(p, 'x'); fs.statSync(p); fs.chmodSync(p, 0o600); fs.unlinkSync(p);
}`;

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

for (const name of values.systems.split(',')) {
  const system = systems[name];
  if (!system) throw new Error(`unknown system ${name}`);
  const dir = join(work, name);
  const mounts: Overlay[] = [];
  const total = () => system.pids(mounts).reduce((s, p) => s + rssKb(p), 0);
  try {
    const steps: number[] = [];
    for (let i = 0; i < MOUNTS; i++) {
      const o = { upper: join(dir, `u${i}`), work: join(dir, `w${i}`), mnt: join(dir, `m${i}`) };
      for (const d of [o.upper, o.work, o.mnt]) mkdirSync(d, { recursive: true });
      const started = process.hrtime.bigint();
      system.mount(o);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      mounts.push(o);
      // Touch it once, as a runtime would, so the first requests' memory counts.
      spawnSync('ls', ['-l', join(o.mnt, 'etc')], { stdio: 'ignore' });
      steps.push(total());
      if (i < 2) console.log(`${name}: mount ${i + 1} took ${ms.toFixed(0)} ms (command start to ready)`);
    }
    const processes = system.pids(mounts).length;
    const first = steps[0]!;
    const last = steps[steps.length - 1]!;
    console.log(`${name}: ${processes} process(es); RSS with 1 mount ${mb(first)} MB, with ${MOUNTS} ${mb(last)} MB; `
      + `each further mount ${mb((last - first) / (MOUNTS - 1))} MB`);
    const target = mounts[0]!;
    const pids = system.pids([target]);
    const quarter = OPS / 4;
    const at: number[] = [pids.reduce((s, p) => s + rssKb(p), 0)];
    const cpu = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    for (let q = 0; q < 4; q++) {
      execFileSync(process.execPath, ['-e', OPS_SCRIPT, join(target.mnt, 'etc'), String(quarter)]);
      at.push(pids.reduce((s, p) => s + rssKb(p), 0));
    }
    const used = pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu;
    console.log(`${name}: RSS of the process serving mount 1 over ${OPS} operations (each quarter): ${at.map(mb).join(' → ')} MB; `
      + `it used ${used.toFixed(2)} s of CPU for them`);
  } finally {
    for (const o of mounts) if (isMounted(o.mnt)) await unmount(o.mnt, true);
  }
}
rmSync(work, { recursive: true, force: true });
