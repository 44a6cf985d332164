/**
 * The store's bookkeeping: resolving references, tags, rmi and garbage
 * collection, adding layers and images from code (as `commit` does), and
 * save → load round trips in both archive formats.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { loadArchive } from '../../src/store/load.js';
import { saveImages } from '../../src/store/save.js';
import { Store } from '../../src/store/store.js';
import { hex, ociLayout, sha, storeState, tarOf, tarOfFiles } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-store-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(tmp, `${what}-${n++}`);

const base = await tarOf([{ name: 'etc/' }, { name: 'etc/base', content: 'base\n' }]);
const one = await tarOf([{ name: 'one', content: '1\n' }]);
const two = await tarOf([{ name: 'two', content: '2\n' }]);

/** A store holding one:1 (base+one) and two:1, two:latest (base+two). */
async function twoImages(): Promise<Store> {
  const store = await Store.open(fresh('store'));
  const path = fresh('in') + '.tar';
  writeFileSync(
    path,
    await tarOfFiles(ociLayout([
      { layers: [base, one], tag: 'one:1', compression: 'gzip', created: '2021-01-01T00:00:00Z' },
      { layers: [base, two], tag: 'two:1', compression: 'zstd', created: '2022-01-01T00:00:00Z' },
    ])),
  );
  await loadArchive(store, path);
  await store.tag('two:1', 'two');
  return store;
}

describe('resolve', () => {
  it.each([
    ['one:1', 'one:1'],
    ['two', 'two:1'],
    ['docker.io/library/two:latest', 'two:1'],
    ['two:1', 'two:1'],
  ])('%s', async (ref, expected) => {
    const store = await twoImages();
    const img = await store.resolve(ref);
    expect(img.repoTags).toContain(expected);
  });

  it('by full ID, sha256: ID and unique prefix; unknown and invalid refs are errors', async () => {
    const store = await twoImages();
    const img = await store.resolve('one:1');
    expect((await store.resolve(img.id)).id).toBe(img.id);
    expect((await store.resolve(hex(img.id))).id).toBe(img.id);
    expect((await store.resolve(hex(img.id).slice(0, 12))).id).toBe(img.id);
    await expect(store.resolve('nope:1')).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE', message: 'no such image: nope:1' });
    await expect(store.tag('one:1', 'Bad Name')).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('lists images newest first with their tags; layerDirs is top first', async () => {
    const store = await twoImages();
    const list = await store.images();
    expect(list.map((i) => i.repoTags)).toEqual([['two:1', 'two:latest'], ['one:1']]);
    const dirs = store.layerDirs(list[0]!);
    expect(dirs).toEqual([join(store.root, 'layers', hex(sha(two)), 'diff'), join(store.root, 'layers', hex(sha(base)), 'diff')]);
  });
});

describe('rmi and garbage collection', () => {
  it('a tag of a multiply tagged image is only untagged', async () => {
    const store = await twoImages();
    const before = (await store.resolve('two:1')).id;
    expect(await store.rmi('two:latest')).toEqual({ untagged: ['two:latest'], deleted: [] });
    expect((await store.resolve('two:1')).id).toBe(before);
    await expect(store.resolve('two:latest')).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
  });

  it('removing an image frees only the layers and blobs nobody else needs', async () => {
    const store = await twoImages();
    const img = await store.resolve('one:1');
    const r = await store.rmi('one:1');
    expect(r.untagged).toEqual(['one:1']);
    expect(r.deleted).toEqual([img.id, sha(one)]);
    expect(readdirSync(join(store.root, 'layers')).sort()).toEqual([hex(sha(base)), hex(sha(two))].sort());
    expect(existsSync(store.blobPath(img.id))).toBe(false);
    expect(existsSync(store.blobPath(img.layers[1]!.digest))).toBe(false);
    expect(existsSync(store.blobPath(img.layers[0]!.digest))).toBe(true);
    const two1 = await store.resolve('two:1');
    await expect(store.rmi(two1.id)).rejects.toMatchObject({ code: 'CONFLICT' }); // two tags: Docker wants -f
    await store.rmi(two1.id, { force: true });
    expect(readdirSync(join(store.root, 'layers'))).toEqual([]);
    expect(readdirSync(join(store.root, 'blobs/sha256'))).toEqual([]);
    expect(await store.images()).toEqual([]);
  });

  it('an image a container uses is refused; with force its layers stay while the container does', async () => {
    const store = await twoImages();
    const img = await store.resolve('one:1');
    await store.hold('c1', img.id, 'container web');
    expect(await store.holds()).toEqual([{ holder: 'c1', imageId: img.id, description: 'container web' }]);
    await expect(store.rmi('one:1')).rejects.toMatchObject({ code: 'IMAGE_IN_USE', message: expect.stringContaining('used by container web'), data: { holder: 'c1' } });
    expect((await store.resolve('one:1')).id).toBe(img.id);
    await store.rmi('one:1', { force: true });
    await expect(store.resolve('one:1')).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
    for (const d of store.layerDirs(img)) expect(existsSync(d)).toBe(true);
    await store.gc();
    for (const d of store.layerDirs(img)) expect(existsSync(d)).toBe(true);
    await store.release('c1');
    await store.gc();
    expect(existsSync(store.layerDirs(img)[0]!)).toBe(false);
  });

  it('a hold needs an existing image and a safe holder name; releasing twice is harmless', async () => {
    const store = await twoImages();
    const img = await store.resolve('one:1');
    await expect(store.hold('c1', `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
    await expect(store.hold('../escape', img.id)).rejects.toMatchObject({ code: 'USAGE' });
    await store.hold('c1', img.id);
    await store.release('c1');
    await store.release('c1');
    expect(await store.holds()).toEqual([]);
    expect((await store.rmi('one:1')).deleted[0]).toBe(img.id);
  });

  it('gc removes imports abandoned by dead processes, not live ones', async () => {
    const store = await Store.open(fresh('store'));
    mkdirSync(join(store.root, 'tmp', '999999999-abc'));
    mkdirSync(join(store.root, 'tmp', `${process.pid}-mine`));
    await store.gc();
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([`${process.pid}-mine`]);
  });

  it('a lock file left with a dead pid (the old O_EXCL lock) holds nothing: the lock is an flock', async () => {
    const store = await Store.open(fresh('store'));
    writeFileSync(join(store.root, 'lock'), '999999999');
    const t0 = Date.now();
    await store.gc();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('adding from code (the runtime\'s commit)', () => {
  it('addImage stacks a new layer on stored ones and fills in diff_ids', async () => {
    const store = await twoImages();
    const parent = await store.resolve('one:1');
    const change = await tarOf([{ name: 'etc/' }, { name: 'etc/.wh.base' }, { name: 'new', content: 'n\n' }]);
    const config = { ...(await store.config(parent)), config: { Cmd: ['/new'] } };
    const img = await store.addImage({ config, layers: [...parent.layers, () => Readable.from([gzipSync(change)])], tags: ['committed:1'] });
    expect(img.repoTags).toEqual(['committed:1']);
    expect(img.layers.map((l) => l.diffId)).toEqual([sha(base), sha(one), sha(change)]);
    expect(img.layers[2]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect((await store.config(img)).rootfs.diff_ids).toEqual([sha(base), sha(one), sha(change)]);
    expect((await store.config(img)).config?.Cmd).toEqual(['/new']);
    expect(readdirSync(store.layerDirs(img)[0]!).sort()).toEqual(['etc', 'new']);
  });

  it('addLayer returns the stored layer when the content is already there', async () => {
    const store = await twoImages();
    const before = storeState(store.root);
    const ref = await store.addLayer(() => Readable.from([one]));
    expect(ref.diffId).toBe(sha(one));
    expect(storeState(store.root)).toEqual(before);
  });
});

describe('save', () => {
  it.each(['oci-archive', 'docker-archive'] as const)('%s loads back into a fresh store with the same image IDs and trees', async (format) => {
    const store = await twoImages();
    const out = fresh('saved') + '.tar';
    await saveImages(store, ['one:1', 'two:1'], out, format);
    const again = await Store.open(fresh('store'));
    const loaded = await loadArchive(again, out);
    expect(loaded.map((i) => i.repoTags).sort()).toEqual([['one:1'], ['two:1']]);
    for (const ref of ['one:1', 'two:1']) {
      const a = await store.resolve(ref);
      const b = await again.resolve(ref);
      expect(b.id).toBe(a.id);
      expect(b.layers.map((l) => l.diffId)).toEqual(a.layers.map((l) => l.diffId));
      expect(storeState(again.layerDirs(b)[0]!)).toEqual(storeState(store.layerDirs(a)[0]!));
    }
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('an unknown image fails before anything is written', async () => {
    const store = await twoImages();
    const out = fresh('saved') + '.tar';
    await expect(saveImages(store, ['one:1', 'nope'], out)).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
    expect(existsSync(out)).toBe(false);
  });
});
