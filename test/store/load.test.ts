/**
 * Loading every archive format, compressed every way, as a directory or a
 * tar; the loaded layer dirs mounted with kernel overlayfs give the image's
 * tree. Digest checks, layer sharing, and bad archives leaving no trace.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { importTarball, loadArchive } from '../../src/store/load.js';
import { Store } from '../../src/store/store.js';
import { mountKernel, unmountAll } from '../helpers/mounts.js';
import {
  type Compression, dockerSave, dockerSaveV1, type Files, type FixtureImage, hex, ociLayout, sha, storeState, tarOf, tarOfFiles, writeDir,
} from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-load-'));
afterEach(unmountAll);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(tmp, `${what}-${n++}`);

const base = await tarOf([
  { name: 'bin/' },
  { name: 'bin/sh', content: '#!/bin/true\n', mode: 0o755 },
  { name: 'etc/' },
  { name: 'etc/os-release', content: 'base\n' },
  { name: 'etc/motd', content: 'hello\n' },
]);
const app = await tarOf([
  { name: 'etc/' },
  { name: 'etc/os-release', content: 'app\n' },
  { name: 'etc/.wh.motd' },
  { name: 'app/' },
  { name: 'app/run', content: 'run\n', mode: 0o755 },
]);
const other = await tarOf([{ name: 'srv/' }, { name: 'srv/data', content: 'other\n' }]);
const MERGED = { 'app/run': 'run\n', 'bin/sh': '#!/bin/true\n', 'etc/os-release': 'app\n' };

/** Every regular file under a directory with its content. */
function filesIn(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) Object.assign(out, filesIn(dir, r));
    else if (st.isFile()) out[r] = readFileSync(join(dir, r), 'utf8');
  }
  return out;
}

/** The image's tree as kernel overlayfs shows it (read-only, the store's layer dirs as lowerdirs). */
async function merged(lowerdirs: string[]): Promise<Record<string, string>> {
  const mnt = fresh('mnt');
  mkdirSync(mnt);
  await mountKernel({ lowerdirs }, mnt);
  return filesIn(mnt);
}

async function asInput(files: Files, as: 'dir' | 'tar' | 'tar.gz'): Promise<string> {
  if (as === 'dir') return writeDir(files, fresh('in'));
  const t = await tarOfFiles(files);
  const path = fresh('in') + (as === 'tar' ? '.tar' : '.tar.gz');
  writeFileSync(path, as === 'tar' ? t : gzipSync(t));
  return path;
}

const img = (c: Compression, tag = 'demo/app:1.0'): FixtureImage => ({ layers: [base, app], tag, compression: c });

const FORMATS: Array<{ name: string; files: () => Files; as: 'dir' | 'tar' | 'tar.gz' }> = [
  { name: 'OCI layout dir, plain layers', files: () => ociLayout([img('none')]), as: 'dir' },
  { name: 'OCI layout tar, gzip layers', files: () => ociLayout([img('gzip')]), as: 'tar' },
  { name: 'OCI layout tar, zstd layers', files: () => ociLayout([img('zstd')]), as: 'tar' },
  { name: 'Docker 25+ save (OCI layout + manifest.json)', files: () => ociLayout([img('gzip')], { docker25: true }), as: 'tar' },
  { name: 'docker save with manifest.json', files: () => dockerSave([img('none')]), as: 'tar' },
  { name: 'docker save with manifest.json, gzip layers, as a dir', files: () => dockerSave([img('gzip')]), as: 'dir' },
  { name: 'docker save piped through gzip', files: () => dockerSave([img('none')]), as: 'tar.gz' },
  { name: 'old docker save (seed 003: <id>/json, repositories)', files: () => dockerSaveV1({ layers: [base, app], tag: 'demo/app:1.0' }), as: 'tar' },
];

describe('load: every format', () => {
  it.each(FORMATS)('$name', async ({ files, as }) => {
    const store = await Store.open(fresh('store'));
    const input = await asInput(files(), as);
    const [image, ...rest] = await loadArchive(store, input);
    expect(rest).toEqual([]);
    expect(image!.repoTags).toEqual(['demo/app:1.0']);
    expect(image!.layers.map((l) => l.diffId)).toEqual([sha(base), sha(app)]);
    const resolved = await store.resolve('demo/app:1.0');
    expect(resolved.id).toBe(image!.id);
    const dirs = store.layerDirs(resolved);
    expect(filesIn(dirs[1]!)).toEqual({ 'bin/sh': '#!/bin/true\n', 'etc/motd': 'hello\n', 'etc/os-release': 'base\n' });
    expect(await merged(dirs)).toEqual(MERGED);
    expect((await store.config(resolved)).rootfs.diff_ids).toEqual([sha(base), sha(app)]);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });

  it('old docker save whose duplicate layers are symlinks', async () => {
    const store = await Store.open(fresh('store'));
    const empty = await tarOf([]);
    const input = await asInput(dockerSaveV1({ layers: [base, empty, app, empty], tag: 'dup:1' }, { linkDuplicates: true }), 'tar');
    const [image] = await loadArchive(store, input);
    expect(image!.layers).toHaveLength(4);
    expect(await merged(store.layerDirs(image!))).toEqual(MERGED);
  });
});

describe('load: multi-platform OCI index', () => {
  it('picks the linux/amd64 manifest of a nested index and takes the name from the outer entry', async () => {
    const amd = ociLayout([{ layers: [base, app] }]);
    const arm = ociLayout([{ layers: [base, other] }]);
    const manifestOf = (f: Files) => JSON.parse((f['index.json'] as Buffer).toString()).manifests[0];
    const nested = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...manifestOf(arm), platform: { os: 'linux', architecture: 'arm64' } },
        { ...manifestOf(amd), platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }));
    const files: Files = { ...arm, ...amd, [`blobs/sha256/${hex(sha(nested))}`]: nested };
    files['index.json'] = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(nested), size: nested.length, annotations: { 'org.opencontainers.image.ref.name': 'multi:1' } }],
    }));
    const store = await Store.open(fresh('store'));
    const [image, ...rest] = await loadArchive(store, await asInput(files, 'tar'));
    expect(rest).toEqual([]);
    // a ref.name without a registry, in an archive, is a name under localhost/, as podman load reads it
    expect(image!.repoTags).toEqual(['localhost/multi:1']);
    expect(image!.layers.map((l) => l.diffId)).toEqual([sha(base), sha(app)]);
  });
});

describe('load: sharing', () => {
  it('two images with a common base store it once; a second load reads nothing new', async () => {
    const store = await Store.open(fresh('store'));
    const input = await asInput(ociLayout([img('gzip', 'one:1'), { layers: [base, other], tag: 'two:1', compression: 'gzip' }]), 'tar');
    const images = await loadArchive(store, input);
    expect(images.map((i) => i.repoTags)).toEqual([['one:1'], ['two:1']]);
    expect(readdirSync(join(store.root, 'layers')).sort()).toEqual([sha(base), sha(app), sha(other)].map(hex).sort());
    const before = storeState(store.root);
    await loadArchive(store, input);
    expect(storeState(store.root)).toEqual(before);
  });

  it('concurrent loads sharing layers both land, each layer unpacked once', async () => {
    const store = await Store.open(fresh('store'));
    const a = await asInput(ociLayout([img('gzip', 'a:1')]), 'tar');
    const b = await asInput(ociLayout([{ layers: [base, other], tag: 'b:1', compression: 'zstd' }]), 'tar');
    const c = await asInput(dockerSave([img('none', 'c:1')]), 'tar');
    await Promise.all([loadArchive(store, a), loadArchive(store, b), loadArchive(store, c)]);
    expect((await store.images()).flatMap((i) => i.repoTags).sort()).toEqual(['a:1', 'b:1', 'c:1']);
    expect(readdirSync(join(store.root, 'layers')).sort()).toEqual([sha(base), sha(app), sha(other)].map(hex).sort());
    for (const ref of ['a:1', 'b:1', 'c:1']) {
      for (const d of store.layerDirs(await store.resolve(ref))) expect(readdirSync(d).length).toBeGreaterThan(0);
    }
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });
});

/** A valid OCI layout with one thing changed. */
function tamper(change: (f: Files, ids: { config: string; blob: string }) => void): () => Files {
  return () => {
    const i = img('gzip');
    const files = ociLayout([i]);
    const config = Object.keys(files).find((k) => Buffer.isBuffer(files[k]) && (files[k] as Buffer).toString().includes('"rootfs"'))!;
    const blob = `blobs/sha256/${hex(sha(gzipSync(app)))}`;
    const gz = Object.keys(files).find((k) => k.startsWith('blobs/') && (files[k] as Buffer)[0] === 0x1f && !k.endsWith(hex(sha(gzipSync(base)))))!;
    change(files, { config, blob: gz ?? blob });
    return files;
  };
}

const BAD: Array<{ name: string; files: () => Files; code: string; message: RegExp }> = [
  {
    name: 'a layer blob whose bytes do not match its digest',
    files: tamper((f, { blob }) => {
      f[blob] = gzipSync(other);
    }),
    code: 'DIGEST_MISMATCH',
    message: /blobs\/sha256\/[0-9a-f]{64} \(blob\): digest mismatch/,
  },
  {
    name: 'a config whose diff_id does not match the uncompressed layer',
    files: () => {
      const files = ociLayout([img('gzip')]);
      // Re-point the manifest at a config claiming other diff_ids; the config itself is then a valid blob.
      const bogus = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(base), sha('not this layer')] } }));
      const manifestKey = Object.keys(files).find((k) => (files[k] as Buffer).toString().includes('"layers"') && !(files[k] as Buffer).toString().includes('rootfs'))!;
      const m = JSON.parse((files[manifestKey] as Buffer).toString());
      m.config = { ...m.config, digest: sha(bogus), size: bogus.length };
      const mb = Buffer.from(JSON.stringify(m));
      files[`blobs/sha256/${hex(sha(bogus))}`] = bogus;
      files[`blobs/sha256/${hex(sha(mb))}`] = mb;
      const index = JSON.parse((files['index.json'] as Buffer).toString());
      index.manifests[0] = { ...index.manifests[0], digest: sha(mb), size: mb.length };
      files['index.json'] = Buffer.from(JSON.stringify(index));
      return files;
    },
    code: 'DIGEST_MISMATCH',
    message: /uncompressed, config diff_id\): digest mismatch, expected sha256:[0-9a-f]{64}/,
  },
  {
    name: 'a config blob edited after the manifest named it',
    files: tamper((f, { config }) => {
      f[config] = Buffer.from((f[config] as Buffer).toString().replace('/bin/sh', '/bin/evil'));
    }),
    code: 'DIGEST_MISMATCH',
    message: /\(config\): digest mismatch/,
  },
  {
    name: 'a truncated gzip layer',
    files: tamper((f, { blob }) => {
      f[blob] = (f[blob] as Buffer).subarray(0, 40);
    }),
    code: 'BAD_ARCHIVE',
    message: /gzip: unexpected end of file/,
  },
  {
    name: 'a missing layer blob',
    files: tamper((f, { blob }) => {
      delete f[blob];
    }),
    code: 'BAD_ARCHIVE',
    message: /layer file is missing/,
  },
  {
    name: 'a manifest.json that is not JSON',
    files: () => ({ 'manifest.json': Buffer.from('[{"Config": ') }),
    code: 'BAD_ARCHIVE',
    message: /manifest\.json'.*not valid JSON/,
  },
  {
    name: 'no image files at all',
    files: () => ({ 'README': Buffer.from('hi') }),
    code: 'BAD_ARCHIVE',
    message: /not an image archive/,
  },
];

describe('load: bad archives are refused and leave the store as it was', () => {
  it.each(BAD)('$name', async ({ files, code, message }) => {
    const store = await Store.open(fresh('store'));
    await loadArchive(store, await asInput(ociLayout([{ layers: [other], tag: 'keep:1' }]), 'tar'));
    const before = storeState(store.root);
    const err = await loadArchive(store, await asInput(files(), 'tar')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
    expect(storeState(store.root)).toEqual(before);
  });

  it('a corrupt outer tar names the archive', async () => {
    const store = await Store.open(fresh('store'));
    const path = fresh('bad') + '.tar';
    writeFileSync(path, Buffer.alloc(1024, 7));
    await expect(loadArchive(store, path)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining(path) });
  });
});

describe('import', () => {
  it('turns a rootfs tarball (gzip) into a one-layer image', async () => {
    const store = await Store.open(fresh('store'));
    const path = fresh('rootfs') + '.tar.gz';
    writeFileSync(path, gzipSync(base));
    const image = await importTarball(store, path, 'my/rootfs');
    expect(image.repoTags).toEqual(['my/rootfs:latest']);
    expect(image.layers.map((l) => l.diffId)).toEqual([sha(base)]);
    expect(filesIn(store.layerDirs(image)[0]!)).toEqual({ 'bin/sh': '#!/bin/true\n', 'etc/motd': 'hello\n', 'etc/os-release': 'base\n' });
  });
});
