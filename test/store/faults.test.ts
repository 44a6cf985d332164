/**
 * The store under faults, one row per case issue #13 found: the lock (a
 * stale pid, two processes racing, a holder killed, a full disk), archives
 * that are no image archive, a disk too small for what an archive declares,
 * symlink loops in a layout directory, sparse tar entries, and the layers
 * of an image removed with `rmi -f` while a container held it.
 * The full-disk rows run on a small tmpfs mounted here (and unmounted after).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { loadArchive, importTarball } from '../../src/store/load.js';
import { Store } from '../../src/store/store.js';
import { withLock } from '../../src/store/lock.js';
import { commitContainer } from '../../src/runtime/commit.js';
import { pathsOf, type ContainerState } from '../../src/runtime/containers.js';
import { hex, ociLayout, storeState, tarOf, tarOfFiles, writeDir } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-faults-'));
const small = join(tmp, 'tmpfs');
let mounted = false;
beforeAll(() => {
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'layerfs-test', small]);
  mounted = true;
});
afterAll(() => {
  if (mounted) execFileSync('umount', [small]);
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
const fresh = (what: string, under = tmp) => join(under, `${what}-${n++}`);

const LOCK_JS = fileURLToPath(new URL('../../dist/store/lock.js', import.meta.url));

/** A node process that takes the store lock `rounds` times, logging entry and exit, or holds it and waits to be killed. */
function locker(root: string, log: string, rounds: number, hold = false) {
  const code = `
    import { withLock } from ${JSON.stringify(LOCK_JS)};
    import { appendFileSync } from 'node:fs';
    for (let i = 0; i < ${rounds}; i++) {
      await withLock(${JSON.stringify(root)}, async () => {
        appendFileSync(${JSON.stringify(log)}, process.pid + ' in\\n');
        if (${hold}) { process.stdout.write('held\\n'); setInterval(() => {}, 1000); await new Promise(() => {}); }
        await new Promise((r) => setTimeout(r, 2));
        appendFileSync(${JSON.stringify(log)}, process.pid + ' out\\n');
      }, 10000);
    }`;
  return spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}
const exited = (p: ReturnType<typeof spawn>) => new Promise<number | null>((r) => p.on('exit', (c) => r(c)));

describe('the store lock (flock)', () => {
  it('two processes racing on a stale lock file never hold it at once', async () => {
    const root = fresh('race');
    mkdirSync(root);
    writeFileSync(join(root, 'lock'), '999999999'); // what the old O_EXCL lock left after a crash
    const log = join(root, 'log');
    const procs = [locker(root, log, 30), locker(root, log, 30)];
    expect(await Promise.all(procs.map(exited))).toEqual([0, 0]);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(120);
    for (let i = 0; i < lines.length; i += 2) {
      const [pid, what] = lines[i]!.split(' ');
      expect(what).toBe('in');
      expect(lines[i + 1]).toBe(`${pid} out`);
    }
  });

  it('a holder killed with SIGKILL leaves nothing held', async () => {
    const root = fresh('killed');
    mkdirSync(root);
    const p = locker(root, join(root, 'log'), 1, true);
    await new Promise<void>((r) => p.stdout!.once('data', () => r()));
    await expect(withLock(root, async () => 'no', 300)).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining(`(pid ${p.pid})`) });
    p.kill('SIGKILL');
    await exited(p);
    const t0 = Date.now();
    expect(await withLock(root, async () => 'taken')).toBe('taken');
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('ENOSPC while the lock is held (full tmpfs) leaves no stuck lock', async () => {
    const store = await Store.open(fresh('store', small));
    await store.addImage({ config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, layers: [], tags: ['a:1'] });
    rmSync(join(store.root, 'lock'));
    const filler = join(small, 'filler');
    try {
      expect(() => writeFileSync(filler, Buffer.alloc(16 * 2 ** 20))).toThrow(/ENOSPC/);
      // taking the lock on a full disk works (it writes nothing); the tag write inside it fails
      await expect(store.tag('a:1', 'b:1')).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(store.tag('a:1', 'c:1')).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      unlinkSync(filler);
    }
    const t0 = Date.now();
    await store.tag('a:1', 'b:1');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await store.resolve('b:1')).repoTags).toEqual(['a:1', 'b:1']);
  });
});

describe('archives and disk space', () => {
  /** A gzip that is small but declares a big file: what a tar bomb looks like. */
  const bomb = async (first: string, mib: number) => gzipSync(await tarOf([{ name: first, content: Buffer.alloc(mib * 2 ** 20) }]), { level: 9 });

  it('a .tar.gz that is no image archive is refused at its first entry, before anything is written', async () => {
    const store = await Store.open(fresh('store', small));
    const input = fresh('rootfs') + '.tar.gz';
    writeFileSync(input, await bomb('rootfs/big', 64)); // 64 MiB on an 8 MiB disk: spooling it would fail with ENOSPC
    const before = storeState(store.root);
    await expect(loadArchive(store, input)).rejects.toMatchObject({
      code: 'BAD_ARCHIVE',
      message: `${input}: not an image archive: its first entry 'rootfs/big' belongs to neither a docker save archive nor an OCI layout`,
    });
    expect(storeState(store.root)).toEqual(before);
  });

  it.each([
    ['import of a layer with a file larger than the free space', 'import', 'etc/huge', 32],
    ['load of an image whose layer holds such a file', 'load', 'etc/huge', 32],
  ])('%s stops before writing it, saying how much it needed', async (_name, how, file, mib) => {
    const store = await Store.open(fresh('store', small));
    const layer = await bomb(file, mib);
    const input = fresh('in') + '.tar';
    if (how === 'import') writeFileSync(input, layer);
    else writeFileSync(input, await tarOfFiles(ociLayout([{ layers: [await tarOf([{ name: file, content: Buffer.alloc(mib * 2 ** 20) }])], tag: 'big:1', compression: 'gzip' }])));
    const before = storeState(store.root);
    const err = how === 'import' ? importTarball(store, input, 'big:1') : loadArchive(store, input);
    await expect(err).rejects.toMatchObject({
      code: 'NO_SPACE',
      message: expect.stringMatching(new RegExp(`entry '${file}': not enough space on .*: the import needs at least 32(\\.\\d+)? MiB \\(32 MiB more\\), .* is free and .* stays in reserve \\(LAYERFS_RESERVE\\)$`)),
    });
    expect(storeState(store.root)).toEqual(before);
  });

  it('LAYERFS_RESERVE sets the reserve: an import that fits the disk but not above the reserve is stopped', async () => {
    const store = await Store.open(fresh('store', small));
    const input = fresh('in') + '.tar';
    writeFileSync(input, await bomb('f', 2));
    process.env.LAYERFS_RESERVE = '7M';
    try {
      await expect(importTarball(store, input, 'x:1')).rejects.toMatchObject({ code: 'NO_SPACE', data: { reserve: 7 * 2 ** 20 } });
    } finally {
      delete process.env.LAYERFS_RESERVE;
    }
    expect((await importTarball(store, input, 'x:1')).repoTags).toEqual(['x:1']);
  });

  it('LAYERFS_MAX_FILE_SIZE and LAYERFS_MAX_LAYER_SIZE set the limits below the free space', async () => {
    const store = await Store.open(fresh('store'));
    const input = fresh('in') + '.tar';
    writeFileSync(input, await tarOf([{ name: 'a', content: Buffer.alloc(3000) }, { name: 'b', content: Buffer.alloc(3000) }]));
    const before = storeState(store.root);
    for (const [env, message] of [
      [{ LAYERFS_MAX_FILE_SIZE: '2k' }, "entry 'a': file of 3000 bytes exceeds the limit of 2048"],
      [{ LAYERFS_MAX_LAYER_SIZE: '5k' }, "entry 'b': layer exceeds the limit of 5120 bytes"],
    ] as const) {
      Object.assign(process.env, env);
      try {
        await expect(importTarball(store, input, 'x:1')).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining(message) });
      } finally {
        for (const k of Object.keys(env)) delete process.env[k];
      }
    }
    expect(storeState(store.root)).toEqual(before);
  });

  it('a layout directory with a symlink loop fails at once, naming the loop', async () => {
    const dir = writeDir(ociLayout([{ layers: [await tarOf([{ name: 'a', content: 'a' }])], tag: 'loop:1' }]), fresh('layout'));
    symlinkSync('..', join(dir, 'blobs', 'sha256', 'up'));
    symlinkSync('self', join(dir, 'self'));
    const store = await Store.open(fresh('store'));
    const t0 = Date.now();
    await expect(loadArchive(store, dir)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringMatching(/(directory loop|symlink loop) \(ELOOP\)/) });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  /** A 6 MiB file with `parts` runs of data between holes. */
  function sparseFile(dir: string, parts: number): string {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'holes');
    execFileSync('truncate', ['-s', '6M', file]);
    const fd = openSync(file, 'r+');
    for (let i = 0; i < parts; i++) writeSync(fd, Buffer.from(`part ${i}\n`.repeat(100)), 0, undefined, i * 2 ** 20 + 4096 * i);
    closeSync(fd);
    return file;
  }

  it.each([
    ['gnu', []],
    ['pax', []], // PAX 1.0, GNU tar's default for --format=pax
    ['pax', ['--sparse-version=0.1']],
    ['pax', ['--sparse-version=0.0']],
  ] as const)('a sparse file in %s format %j unpacks as GNU tar extracts it, holes kept', async (format, flags) => {
    const dir = fresh('sparse');
    const file = sparseFile(join(dir, 'src'), 3);
    const input = join(dir, 'in.tar');
    execFileSync('tar', ['--sparse', ...flags, `--format=${format}`, '-C', join(dir, 'src'), '-cf', input, 'holes']);
    mkdirSync(join(dir, 'gnu'));
    execFileSync('tar', ['-C', join(dir, 'gnu'), '-xf', input]);
    const store = await Store.open(fresh('store'));
    const img = await importTarball(store, input, 'sparse:1');
    const ours = join(store.layerDir(img.layers[0]!.diffId), 'holes');
    expect(readFileSync(ours).equals(readFileSync(join(dir, 'gnu', 'holes')))).toBe(true);
    expect(readFileSync(ours).equals(readFileSync(file))).toBe(true);
    expect(statSync(ours).blocks * 512).toBeLessThan(2 ** 20); // the holes stay holes
    expect(img.layers[0]!.unpackedSize).toBe(6 * 2 ** 20);
  });

  it("a GNU sparse file of more than 4 parts (extension headers) is refused by name, the store unchanged", async () => {
    const dir = fresh('sparse');
    sparseFile(join(dir, 'src'), 6);
    const input = join(dir, 'in.tar');
    execFileSync('tar', ['--sparse', '--format=gnu', '-C', join(dir, 'src'), '-cf', input, 'holes']);
    const store = await Store.open(fresh('store'));
    const before = storeState(store.root);
    await expect(importTarball(store, input, 'sparse:1')).rejects.toMatchObject({
      code: 'BAD_ARCHIVE',
      message: `in.tar: entry 'holes': GNU sparse file of more than 4 parts (type 'S' with extension headers) is not supported`,
    });
    expect(storeState(store.root)).toEqual(before);
  });
});

describe('an image removed with rmi -f while a container holds it', () => {
  it('commit of the container still works, and its layers go when the container does', async () => {
    const store = await Store.open(fresh('store'));
    const base = await store.addImage({
      config: { architecture: 'amd64', os: 'linux', config: { Cmd: ['/x'] }, rootfs: { type: 'layers', diff_ids: [] } },
      layers: [async () => Readable.from([await tarOf([{ name: 'x', content: 'x' }])])],
      tags: ['orphan:1'],
    });
    const id = 'c'.repeat(64);
    const paths = pathsOf(store.root, id);
    mkdirSync(paths.upper, { recursive: true });
    writeFileSync(join(paths.upper, 'changed'), 'y');
    const state = { id, name: 'c1', image: 'orphan:1', imageId: base.id, layers: [], args: ['/x'], created: new Date().toISOString(), status: 'exited', mounter: 'layerfs' } as ContainerState;
    await store.hold(id, base.id, 'container c1');
    await expect(store.rmi('orphan:1')).rejects.toMatchObject({ code: 'IMAGE_IN_USE' });
    expect((await store.rmi('orphan:1', { force: true })).deleted).toEqual([base.id]);
    const layerDir = store.layerDir(base.layers[0]!.diffId);
    expect(existsSync(layerDir)).toBe(true);

    const committed = await commitContainer(store, state, 'after:1');
    expect(committed.layers.map((l) => l.diffId).slice(0, 1)).toEqual([base.layers[0]!.diffId]);
    await store.rmi('after:1');

    rmSync(paths.dir, { recursive: true });
    expect(await store.release(id)).toEqual([base.layers[0]!.diffId]);
    expect(existsSync(layerDir)).toBe(false);
    expect(existsSync(store.blobPath(base.id))).toBe(false);
    expect(hex(base.id)).toHaveLength(64);
  });
});
