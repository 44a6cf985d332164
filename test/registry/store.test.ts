/** pull and push through the layer store: hello-world out, back in, unpacked and verified. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { StoreTarget } from '../../src/registry/store-adapter.js';
import { ensureBuiltin } from '../../src/store/hello-world.js';
import { Store } from '../../src/store/store.js';
import { writeOciImage } from './helpers/oci-image.js';
import { OciLayout } from '../../src/registry/layout-target.js';
import { captured } from './helpers/output.js';
import { TestRegistry } from './helpers/registry-server.js';

let reg: TestRegistry;
let work: string;
let config: RegistryConfig;
let pushedDigest = '';

beforeAll(async () => {
  reg = await TestRegistry.start();
  work = await mkdtemp(join(tmpdir(), 'layerfs-rs-'));
  config = await RegistryConfig.load(join(work, 'config.json'));
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('registry <-> layer store', () => {
  it('pushes the builtin hello-world and pulls it into another store, unpacked', async () => {
    const a = await Store.open(join(work, 'a'));
    const hello = await ensureBuiltin(a, 'hello-world');
    const ref = `${reg.host}/library/hello-world:latest`;
    const pushed = await push('hello-world', ref, { source: new StoreTarget(a), config, insecure: true });
    // The plain layer went up gzipped, and the gzip blob stays with the layer.
    const gz = (await a.compressedLayer(hello.layers[0]!.diffId, 'gzip'))!;
    expect(pushed.layers).toEqual([{ digest: gz.digest, status: 'pushed' }]);
    expect(pushed.digest).not.toBe(hello.manifestDigest);
    pushedDigest = pushed.digest;
    expect((await a.resolve('hello-world')).repoDigests).toEqual([`${reg.host}/library/hello-world@${pushed.digest}`]);

    const b = await Store.open(join(work, 'b'));
    const out = captured();
    const pulled = await pull(ref, { target: new StoreTarget(b), config, insecure: true, onProgress: out.progress });
    expect(pulled.imageId).toBe(hello.id);
    const short = gz.digest.slice(7, 19);
    expect(out.lines()).toEqual([`${short}: Pull complete`, `Digest: ${pushed.digest}`, `Status: Downloaded newer image for ${ref}`]);
    expect((await b.resolve(ref)).repoDigests).toEqual([`${reg.host}/library/hello-world@${pushed.digest}`]);

    const img = await b.resolve(ref);
    const [dir] = b.layerDirs(img);
    const elf = await readFile(join(dir!, 'hello'));
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect((await stat(join(dir!, 'hello'))).mode & 0o777).toBe(0o755);
    expect((await b.config(img)).config?.Cmd).toEqual(['/hello']);

    const again = captured();
    const second = await pull(ref, { target: new StoreTarget(b), config, insecure: true, onProgress: again.progress });
    expect(second.layers.every((l) => l.status === 'exists')).toBe(true);
    expect(again.lines()).toEqual([`${short}: Already exists`, `Digest: ${pushed.digest}`, `Status: Image is up to date for ${ref}`]);
  });

  it.each([
    ['gzip', 'the same digest as the first push: the kept gzip blob is sent again'],
    ['none', "the store's own manifest, the layer as it is"],
    ['zstd', 'a zstd blob (made by the zstd program), kept too'],
  ] as const)('push --compression %s: %s', async (compression, _why) => {
    const a = await Store.open(join(work, 'a'));
    const hello = await ensureBuiltin(a, 'hello-world');
    const ref = `${reg.host}/compressed/${compression}:1`;
    const first = await push('hello-world', ref, { source: new StoreTarget(a), config, insecure: true, compression });
    const again = await push('hello-world', ref, { source: new StoreTarget(a), config, insecure: true, compression });
    expect(again.digest).toBe(first.digest);
    expect(again.layers.map((l) => l.status)).toEqual(['exists']);
    if (compression === 'gzip') expect(first.digest).toBe(pushedDigest);
    if (compression === 'none') expect(first.digest).toBe(hello.manifestDigest);
    if (compression === 'zstd') expect(first.layers[0]!.digest).toBe((await a.compressedLayer(hello.layers[0]!.diffId, 'zstd'))!.digest);
    // pulled back, the layer unpacks to the same diff_id (the image ID is the same)
    const c = await Store.open(join(work, `pull-${compression}`));
    expect((await pull(ref, { target: new StoreTarget(c), config, insecure: true })).imageId).toBe(hello.id);
  });

  it('reports shared base layers as Already exists and pulls only the new one', async () => {
    const src = join(work, 'layout');
    const base = { 'etc/os-release': 'ID=base\n' };
    await writeOciImage(src, 'one', [base]);
    const two = await writeOciImage(src, 'two', [base, { 'app/run': '#!/bin/sh\necho two\n' }]);
    await push('one', `${reg.host}/shared/one:latest`, { source: new OciLayout(src), config, insecure: true });
    await push('two', `${reg.host}/shared/two:latest`, { source: new OciLayout(src), config, insecure: true });

    const s = await Store.open(join(work, 'c'));
    await pull(`${reg.host}/shared/one`, { target: new StoreTarget(s), config, insecure: true });
    const out = captured();
    await pull(`${reg.host}/shared/two`, { target: new StoreTarget(s), config, insecure: true, onProgress: out.progress });
    const [b, t] = two.layers.map((l) => l.digest.slice(7, 19));
    expect(out.lines().slice(0, 2)).toEqual([`${b}: Already exists`, `${t}: Pull complete`]);
    const img = await s.resolve(`${reg.host}/shared/two:latest`);
    expect(await readFile(join(s.layerDirs(img)[0]!, 'app/run'), 'utf8')).toContain('echo two');
  });

  it('pulls by digest, untagged', async () => {
    const s = await Store.open(join(work, 'd'));
    const a = await Store.open(join(work, 'a'));
    const hello = await a.resolve('hello-world');
    const res = await pull(`${reg.host}/library/hello-world@${pushedDigest}`, { target: new StoreTarget(s), config, insecure: true });
    expect(res.imageId).toBe(hello.id);
    expect((await s.images()).map((i) => [i.id, i.repoTags])).toEqual([[hello.id, []]]);
  });
});
