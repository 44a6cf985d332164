/** A blob corrupted in the registry's own storage is rejected, and the store is left as it was. */
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../../src/errors.js';
import { OciLayout } from '../../src/registry/layout-target.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { StoreTarget } from '../../src/registry/store-adapter.js';
import { ensureBuiltin } from '../../src/store/hello-world.js';
import { Store } from '../../src/store/store.js';
import { writeOciImage, type BuiltImage } from './helpers/oci-image.js';
import { TestRegistry } from './helpers/registry-server.js';
import { listing } from './helpers/tree.js';

let reg: TestRegistry;
let work: string;
let config: RegistryConfig;
let built: BuiltImage;

/** Flips bytes in the middle of the file: same size, different content. */
async function corrupt(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const at = Math.floor(size / 2);
    const b = Buffer.alloc(8);
    await fh.read(b, 0, 8, at);
    for (let i = 0; i < 8; i++) b[i] = b[i]! ^ 0xff;
    await fh.write(b, 0, 8, at);
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  reg = await TestRegistry.start();
  work = await mkdtemp(join(tmpdir(), 'layerfs-corrupt-'));
  config = await RegistryConfig.load(join(work, 'config.json'));
  const src = join(work, 'src');
  built = await writeOciImage(src, 'v1', [{ 'base.txt': 'base layer\n'.repeat(100) }, { 'top.txt': 'top layer\n'.repeat(100) }]);
  await push('v1', `${reg.host}/bad/app:v1`, { source: new OciLayout(src), config, insecure: true });
  await corrupt(reg.blobFile(built.layers[1]!.digest));
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('corrupt blob in the registry', () => {
  it('is rejected with a DigestMismatchError naming it, and the store is untouched', async () => {
    const store = await Store.open(join(work, 'store'));
    await ensureBuiltin(store, 'hello-world');
    const before = await listing(store.root);
    const err = await pull(`${reg.host}/bad/app:v1`, { target: new StoreTarget(store), config, insecure: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).message).toContain(`blob ${built.layers[1]!.digest}`);
    expect((err as DigestMismatchError).data.expected).toBe(built.layers[1]!.digest);
    expect(await listing(store.root)).toEqual(before);
    await expect(store.resolve(`${reg.host}/bad/app:v1`)).rejects.toThrow(/no such image/);
  });

  it('is rejected by an OCI layout target too, leaving no blob behind', async () => {
    const dst = join(work, 'layout');
    await expect(pull(`${reg.host}/bad/app:v1`, { target: new OciLayout(dst), config, insecure: true })).rejects.toThrow(DigestMismatchError);
    expect((await listing(dst)).filter((p) => p.startsWith('blobs/sha256/') && !p.endsWith('/'))).toEqual([]);
  });
});
