/**
 * The workloads of issue 5 §1, at two scales. Each one names the lower tree
 * it runs over, what is cached before it runs, an untimed preparation through
 * the mount, and the measurement, which spawns real tools (dd, chmod, chown,
 * rm, tar) or the probe and converts the time into the workload's unit.
 */
import { join } from 'node:path';
import type { ProbeOp } from './probe.js';
import type { Ran } from './proc.js';
import type { Better, CacheState, Unit } from './results.js';
import type { TreeSpec } from './trees.js';

export interface Env {
  /** Runs the probe in a child process; returns the time it measured. */
  probe(op: ProbeOp): Promise<bigint>;
  /** Runs a tool in a child process; `ns` is spawn to exit. */
  run(argv: string[]): Promise<Ran>;
}

export interface Workload {
  id: string;
  title: string;
  unit: Unit;
  better: Better;
  cache: CacheState;
  tree: TreeSpec;
  /** Whether it changes the tree (the native reference then works on a copy). */
  writes: boolean;
  params: Record<string, number | string>;
  /** Files or dirs read into the page cache before a 'warm' run; `backing` is the lower tree (or native copy). */
  warm?(backing: string): string[];
  /** Untimed, through the mount, before caches are dropped and before measuring. */
  prepare?(root: string, env: Env): Promise<void>;
  measure(root: string, env: Env): Promise<number>;
}

export interface Scale {
  copyupSizes: number[];
  /** The chmod/chown tree: 10k files of ~100 KiB, about 1 GiB in all. */
  meta: { dirs: number; perDir: number; size: number };
  readBytes: number;
  writeBytes: number;
  createCount: number;
  lstat: { dirs: number; perDir: number };
  readdirEntries: number;
  rm: { dirs: number; perDir: number };
  randomReads: number;
  /** The compile-like tree: small files read after an lstat. */
  compile: { dirs: number; perDir: number; size: number };
  npmci: { dirs: number; perDir: number; size: number };
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const FULL: Scale = {
  copyupSizes: [4 * KiB, MiB, 64 * MiB, GiB],
  meta: { dirs: 100, perDir: 100, size: 107_374 },
  readBytes: GiB,
  writeBytes: 512 * MiB,
  createCount: 5000,
  lstat: { dirs: 200, perDir: 100 },
  readdirEntries: 10_000,
  rm: { dirs: 100, perDir: 100 },
  randomReads: 20_000,
  compile: { dirs: 200, perDir: 100, size: 4096 },
  npmci: { dirs: 3000, perDir: 10, size: 2048 },
};

export const QUICK: Scale = {
  copyupSizes: [4 * KiB, MiB, 64 * MiB],
  meta: { dirs: 5, perDir: 100, size: 107_374 },
  readBytes: 128 * MiB,
  writeBytes: 128 * MiB,
  createCount: 1000,
  lstat: { dirs: 40, perDir: 100 },
  readdirEntries: 2000,
  rm: { dirs: 20, perDir: 100 },
  randomReads: 5000,
  compile: { dirs: 40, perDir: 100, size: 4096 },
  npmci: { dirs: 300, perDir: 10, size: 2048 },
};

export function sizeLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB}G`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}M`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB}K`;
  return `${bytes}B`;
}

const sec = (ns: bigint) => Number(ns) / 1e9;
const ms = (ns: bigint) => Number(ns) / 1e6;
const mbps = (bytes: number, ns: bigint) => bytes / 1e6 / sec(ns);
const dd = (path: string) => ['dd', `if=${path}`, 'of=/dev/null', 'bs=1M', 'status=none'];

/** A source tree archived as a tar, for the unpack workload. */
export interface UnpackSource { tar: string; description: string; bytes: number; entries: number }

export function workloads(scale: Scale, unpack: UnpackSource | undefined): Workload[] {
  const list: Workload[] = [];

  for (const size of scale.copyupSizes) {
    list.push({
      id: `copyup-${sizeLabel(size)}`,
      title: `copy-up: first 1-byte write to a ${sizeLabel(size)} lower file`,
      unit: 'ms', better: 'lower', cache: 'warm', writes: true,
      tree: { kind: 'files', files: [{ name: 'warmup', size: 4 * KiB }, { name: 'file', size }] },
      params: { bytes: size },
      warm: (b) => [join(b, 'warmup'), join(b, 'file')],
      // One copy-up of another file first: the time measured is the copy-up
      // itself, not a new daemon's first request (for layerfs, JIT warm-up
      // costs ~5 ms on the first copy-up after mounting).
      prepare: async (root, env) => void (await env.probe({ op: 'write1', path: join(root, 'warmup') })),
      measure: async (root, env) => ms(await env.probe({ op: 'write1', path: join(root, 'file') })),
    });
  }

  const meta: TreeSpec = { kind: 'grid', sub: 'tree', ...scale.meta };
  const metaFiles = scale.meta.dirs * scale.meta.perDir;
  const metaParams = { files: metaFiles, bytes: metaFiles * scale.meta.size };
  list.push({
    id: 'chmod-R', title: `chmod -R over ${metaFiles} lower files (${(metaParams.bytes / GiB).toFixed(2)} GiB)`,
    unit: 'files/s', better: 'higher', cache: 'warm', writes: true, tree: meta, params: metaParams,
    warm: (b) => [join(b, 'tree')],
    measure: async (root, env) => metaFiles / sec((await env.run(['chmod', '-R', 'g+w', join(root, 'tree')])).ns),
  });
  list.push({
    id: 'chown-R', title: `chown -R over ${metaFiles} lower files (${(metaParams.bytes / GiB).toFixed(2)} GiB)`,
    unit: 'files/s', better: 'higher', cache: 'warm', writes: true, tree: meta, params: metaParams,
    warm: (b) => [join(b, 'tree')],
    measure: async (root, env) => metaFiles / sec((await env.run(['chown', '-R', '1000:1000', join(root, 'tree')])).ns),
  });

  const read: TreeSpec = { kind: 'files', files: [{ name: 'a', size: scale.readBytes }, { name: 'b', size: scale.readBytes }] };
  const R = sizeLabel(scale.readBytes);
  const readOnce = async (root: string, env: Env) => mbps(scale.readBytes, (await env.run(dd(join(root, 'a')))).ns);
  list.push({
    id: 'read-cold', title: `sequential read of ${R}, cold`,
    unit: 'MB/s', better: 'higher', cache: 'cold', writes: false, tree: read, params: { bytes: scale.readBytes },
    measure: readOnce,
  });
  list.push({
    id: 'read-hot', title: `sequential read of ${R}, backing file in page cache`,
    unit: 'MB/s', better: 'higher', cache: 'warm', writes: false, tree: read, params: { bytes: scale.readBytes },
    warm: (b) => [join(b, 'a')],
    measure: readOnce,
  });
  list.push({
    id: 'reread', title: `re-read of ${R} already read through the mount`,
    unit: 'MB/s', better: 'higher', cache: 'mount', writes: false, tree: read, params: { bytes: scale.readBytes },
    prepare: async (root, env) => void (await env.run(dd(join(root, 'a')))),
    measure: readOnce,
  });
  list.push({
    id: 'read-parallel', title: `two parallel readers of ${R} each, backing files cached (total rate)`,
    unit: 'MB/s', better: 'higher', cache: 'warm', writes: false, tree: read, params: { bytes: 2 * scale.readBytes },
    warm: (b) => [join(b, 'a'), join(b, 'b')],
    measure: async (root, env) => {
      const start = process.hrtime.bigint();
      await Promise.all([env.run(dd(join(root, 'a'))), env.run(dd(join(root, 'b')))]);
      return mbps(2 * scale.readBytes, process.hrtime.bigint() - start);
    },
  });

  list.push({
    id: 'read-parallel4', title: `four parallel readers (two of each ${R} file), backing files cached (total rate)`,
    unit: 'MB/s', better: 'higher', cache: 'warm', writes: false, tree: read, params: { bytes: 4 * scale.readBytes },
    warm: (b) => [join(b, 'a'), join(b, 'b')],
    measure: async (root, env) => {
      const start = process.hrtime.bigint();
      await Promise.all(['a', 'b', 'a', 'b'].map((f) => env.run(dd(join(root, f)))));
      return mbps(4 * scale.readBytes, process.hrtime.bigint() - start);
    },
  });
  list.push({
    id: 'read-mmap', title: `mmap read of ${R} (one byte a page), backing file cached`,
    unit: 'MB/s', better: 'higher', cache: 'warm', writes: false, tree: read, params: { bytes: scale.readBytes },
    warm: (b) => [join(b, 'a')],
    measure: async (root, env) => {
      // Python's mmap, timed inside the process (its start-up is not measured).
      const script = 'import mmap,sys,time\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ)\n'
        + 't=time.perf_counter_ns()\ns=0\nfor i in range(0,len(m),4096): s+=m[i]\nprint(time.perf_counter_ns()-t)';
      const ran = await env.run(['python3', '-c', script, join(root, 'a')]);
      return mbps(scale.readBytes, BigInt(ran.stdout.trim()));
    },
  });
  list.push({
    id: 'read-random', title: `${scale.randomReads} random 4 KiB reads over ${R}, backing file cached`,
    unit: 'MB/s', better: 'higher', cache: 'warm', writes: false, tree: read, params: { bytes: scale.readBytes, reads: scale.randomReads },
    warm: (b) => [join(b, 'a')],
    measure: async (root, env) => mbps(scale.randomReads * 4096,
      await env.probe({ op: 'randread', path: join(root, 'a'), size: scale.readBytes, count: scale.randomReads })),
  });

  const compile: TreeSpec = { kind: 'grid', sub: 'src', ...scale.compile };
  const compileFiles = scale.compile.dirs * scale.compile.perDir;
  const scan = (root: string, env: Env) => env.probe({ op: 'compile', root: join(root, 'src'), dirs: scale.compile.dirs, perDir: scale.compile.perDir });
  list.push({
    id: 'compile-cold', title: `compile-like scan: lstat + open + read of ${compileFiles} small lower files, cold`,
    unit: 'files/s', better: 'higher', cache: 'cold', writes: false, tree: compile, params: { files: compileFiles },
    measure: async (root, env) => compileFiles / sec(await scan(root, env)),
  });
  list.push({
    id: 'compile-warm', title: `compile-like scan of ${compileFiles} small lower files, second pass through the mount`,
    unit: 'files/s', better: 'higher', cache: 'mount', writes: false, tree: compile, params: { files: compileFiles },
    prepare: async (root, env) => void (await scan(root, env)),
    measure: async (root, env) => compileFiles / sec(await scan(root, env)),
  });

  const empty: TreeSpec = { kind: 'empty' };
  const npmFiles = scale.npmci.dirs * scale.npmci.perDir;
  list.push({
    id: 'npm-ci', title: `npm ci-like create of ${npmFiles} files of ${scale.npmci.size} B in ${scale.npmci.dirs} package dirs`,
    unit: 'files/s', better: 'higher', cache: 'warm', writes: true, tree: empty, params: { files: npmFiles, bytes: scale.npmci.size },
    measure: async (root, env) => npmFiles / sec(await env.probe({ op: 'npmci', dir: join(root, 'node_modules'), ...scale.npmci })),
  });
  list.push({
    id: 'first-copyup', title: 'the first copy-up after mounting: 1-byte write to a 4K lower file',
    unit: 'ms', better: 'lower', cache: 'warm', writes: true,
    tree: { kind: 'files', files: [{ name: 'warmup', size: 4 * KiB }, { name: 'file', size: 4 * KiB }] },
    params: { bytes: 4 * KiB },
    warm: (b) => [join(b, 'file')],
    measure: async (root, env) => ms(await env.probe({ op: 'write1', path: join(root, 'file') })),
  });
  const W = sizeLabel(scale.writeBytes);
  list.push({
    id: 'write-fsync', title: `sequential write of ${W} with fsync`,
    unit: 'MB/s', better: 'higher', cache: 'warm', writes: true, tree: empty, params: { bytes: scale.writeBytes },
    measure: async (root, env) => {
      const argv = ['dd', 'if=/dev/zero', `of=${join(root, 'out')}`, 'bs=1M', `count=${scale.writeBytes / MiB}`, 'conv=fsync', 'status=none'];
      return mbps(scale.writeBytes, (await env.run(argv)).ns);
    },
  });
  list.push({
    id: 'create', title: `create ${scale.createCount} files of 1 KiB`,
    unit: 'files/s', better: 'higher', cache: 'warm', writes: true, tree: empty, params: { files: scale.createCount, bytes: 1024 },
    measure: async (root, env) => scale.createCount / sec(await env.probe({ op: 'create', dir: join(root, 'new'), count: scale.createCount, size: 1024 })),
  });

  const stat: TreeSpec = { kind: 'grid', sub: 'tree', ...scale.lstat, size: 0 };
  const statFiles = scale.lstat.dirs * scale.lstat.perDir;
  const lstatAll = (root: string, env: Env) => env.probe({ op: 'lstat', root: join(root, 'tree'), ...scale.lstat });
  list.push({
    id: 'lstat-cold', title: `lstat of ${statFiles} lower files, cold`,
    unit: 'files/s', better: 'higher', cache: 'cold', writes: false, tree: stat, params: { files: statFiles },
    measure: async (root, env) => statFiles / sec(await lstatAll(root, env)),
  });
  list.push({
    id: 'lstat-warm', title: `lstat of ${statFiles} lower files, second pass through the mount`,
    unit: 'files/s', better: 'higher', cache: 'mount', writes: false, tree: stat, params: { files: statFiles },
    prepare: async (root, env) => void (await lstatAll(root, env)),
    measure: async (root, env) => statFiles / sec(await lstatAll(root, env)),
  });

  list.push({
    id: 'readdir', title: `readdir of a lower directory of ${scale.readdirEntries} entries, first through the mount`,
    unit: 'ms', better: 'lower', cache: 'warm', writes: false,
    tree: { kind: 'wide', sub: 'dir', entries: scale.readdirEntries }, params: { entries: scale.readdirEntries },
    warm: (b) => [join(b, 'dir')],
    measure: async (root, env) => ms(await env.probe({ op: 'readdir', path: join(root, 'dir'), expect: scale.readdirEntries })),
  });

  const rmFiles = scale.rm.dirs * scale.rm.perDir;
  list.push({
    id: 'rm-rf', title: `rm -rf of a lower tree of ${rmFiles} files (whiteouts)`,
    unit: 'files/s', better: 'higher', cache: 'warm', writes: true,
    tree: { kind: 'grid', sub: 'tree', ...scale.rm, size: 512 }, params: { files: rmFiles },
    warm: (b) => [join(b, 'tree')],
    measure: async (root, env) => rmFiles / sec((await env.run(['rm', '-rf', join(root, 'tree')])).ns),
  });

  if (unpack) {
    list.push({
      id: 'unpack', title: `tar -x of ${unpack.description} (${(unpack.bytes / MiB).toFixed(0)} MiB, ${unpack.entries} entries)`,
      unit: 's', better: 'lower', cache: 'warm', writes: true, tree: empty,
      params: { source: unpack.description, bytes: unpack.bytes, entries: unpack.entries },
      warm: () => [unpack.tar],
      measure: async (root, env) => sec((await env.run(['tar', '-x', '--numeric-owner', '-f', unpack.tar, '-C', root])).ns),
    });
  }
  return list;
}
