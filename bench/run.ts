/**
 * `npm run bench [-- --quick] [--reps N] [--only ids] [--systems names]
 * [--unpack debian|node_modules|quick|none] [--no-setup] [--work DIR] [--timeout S]
 * [--disk image|host]`: installs the peers through scripts/setup.sh if any is
 * missing, builds layerfs's HEAD into a private snapshot, mounts the bench
 * disk (bench-disk.ts), runs the workloads, prints the tables and writes
 * bench/results/<timestamp>.json, latest.json and copyup.svg (quick runs
 * write *-quick files instead, so they never replace a full result).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mountBenchDisk, type BenchDisk } from './bench-disk.js';
import { cleanupCurrentMount, runBench } from './harness.js';
import { snapshotLayerfs, type LayerfsBuild } from './layerfs-snapshot.js';
import { DEFAULT_WORK, REPO, RESULTS } from './paths.js';
import { copyupSvg } from './plot.js';
import { run } from './proc.js';
import { formatReport } from './report.js';
import { SYSTEM_NAMES, type SystemName } from './results.js';
import { FULL, QUICK } from './workloads.js';

const PEERS = [
  { bin: 'fuse-overlayfs', pkg: 'fuse-overlayfs' },
  { bin: 'unionfs', pkg: 'unionfs-fuse' },
  { bin: 'debootstrap', pkg: 'debootstrap' },
];

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const has = (bin: string) => run(['sh', '-c', `command -v ${bin}`]).then(() => true, () => false);

/** The peers come from the project's setup script, which apt-installs what is missing. */
async function ensurePeers(setup: boolean, notes: string[]): Promise<void> {
  const missing = [];
  for (const p of PEERS) if (!(await has(p.bin))) missing.push(p);
  if (!missing.length) return;
  if (setup) {
    log(`missing ${missing.map((p) => p.pkg).join(', ')}: running scripts/setup.sh, which installs them`);
    await run(['bash', join(REPO, 'scripts', 'setup.sh')], { timeoutMs: 30 * 60_000 }).catch((err: Error) => log(`scripts/setup.sh failed: ${err.message}`));
  }
  for (const p of missing) {
    if (!(await has(p.bin))) notes.push(`${p.bin} not found (Debian package ${p.pkg}; scripts/setup.sh installs it)`);
  }
}

let disk: BenchDisk | undefined;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      only: { type: 'string' },
      systems: { type: 'string' },
      unpack: { type: 'string' },
      'no-setup': { type: 'boolean', default: false },
      work: { type: 'string', default: DEFAULT_WORK },
      timeout: { type: 'string' },
      disk: { type: 'string', default: 'image' },
    },
    strict: true,
  });
  if (process.getuid?.() !== 0) {
    log('must run as root: it mounts overlays and drops the page cache');
    return 2;
  }
  const quick = values.quick;
  const reps = values.reps ? Number(values.reps) : quick ? 1 : 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: a positive integer, not ${values.reps}`);
  const systems = (values.systems ? values.systems.split(',') : [...SYSTEM_NAMES]) as SystemName[];
  for (const s of systems) if (!SYSTEM_NAMES.includes(s)) throw new Error(`--systems: unknown system ${s} (known: ${SYSTEM_NAMES.join(', ')})`);
  const unpack = (values.unpack ?? (quick ? 'quick' : 'debian')) as 'debian' | 'node_modules' | 'quick' | 'none';
  if (!['debian', 'node_modules', 'quick', 'none'].includes(unpack)) throw new Error(`--unpack: debian, node_modules, quick or none, not ${unpack}`);

  if (values.disk !== 'image' && values.disk !== 'host') throw new Error(`--disk: image or host, not ${values.disk}`);

  const notes: string[] = [];
  await ensurePeers(!values['no-setup'], notes);
  let layerfs: LayerfsBuild | undefined;
  if (systems.some((s) => s.startsWith('layerfs'))) {
    layerfs = await snapshotLayerfs(join(values.work, 'layerfs-snapshot'), log);
    notes.push(...layerfs.notes);
  }

  if (values.disk === 'image') {
    disk = await mountBenchDisk(values.work, log);
    notes.push(disk.note);
  }
  const result = await runBench({
    workRoot: disk?.root ?? values.work,
    cacheDir: join(values.work, 'cache'),
    systems,
    scale: quick ? QUICK : FULL,
    repetitions: reps,
    quick,
    ...(values.only ? { only: values.only.split(',') } : {}),
    unpack,
    timeoutMs: values.timeout ? Number(values.timeout) * 1000 : quick ? 60_000 : 600_000,
    notes,
    ...(layerfs ? { layerfs: { bin: layerfs.bin, commit: layerfs.commit } } : {}),
    log,
  });

  await mkdir(RESULTS, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const suffix = quick ? '-quick' : '';
  const json = JSON.stringify(result, null, 2) + '\n';
  const file = join(RESULTS, `${stamp}${suffix}.json`);
  await writeFile(file, json);
  await writeFile(join(RESULTS, `latest${suffix}.json`), json);
  const svg = join(RESULTS, `copyup${suffix}.svg`);
  await writeFile(svg, copyupSvg(result));
  process.stdout.write(formatReport(result) + '\n\n');
  process.stdout.write(`results: ${file}\nplot: ${svg}\n`);
  return 0;
}

const interrupted = () => {
  log('interrupted: unmounting');
  cleanupCurrentMount().then(() => disk?.release()).finally(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

try {
  process.exitCode = await main();
} catch (err) {
  log((err as Error).message);
  await cleanupCurrentMount();
  process.exitCode = 1;
} finally {
  await disk?.release();
}
