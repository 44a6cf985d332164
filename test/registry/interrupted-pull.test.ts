/**
 * The registry killed in the middle of a layer download: restarted quickly,
 * the same pull resumes with a Range request and completes; left down, the
 * pull fails cleanly (store untouched) and a later pull completes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayout } from '../../src/registry/layout-target.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { NetworkError } from '../../src/registry/registry-error.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { StoreTarget } from '../../src/registry/store-adapter.js';
import { Store } from '../../src/store/store.js';
import { writeOciImage, type BuiltImage } from './helpers/oci-image.js';
import { TestRegistry } from './helpers/registry-server.js';
import { listing } from './helpers/tree.js';

const SIZE = 48 << 20; // well past what loopback socket buffers hold, so the kill lands mid-body
let reg: TestRegistry;
let work: string;
let config: RegistryConfig;
let built: BuiltImage;
let payload: Buffer;
const ref = () => `${reg.host}/big/blob:v1`;

beforeAll(async () => {
  reg = await TestRegistry.start();
  work = await mkdtemp(join(tmpdir(), 'layerfs-kill-'));
  config = await RegistryConfig.load(join(work, 'config.json'));
  payload = randomBytes(SIZE);
  built = await writeOciImage(join(work, 'src'), 'v1', [{ 'small.txt': 'small\n' }, { 'big.bin': payload }], { gzip: false });
  await push('v1', ref(), { source: new OciLayout(join(work, 'src')), config, insecure: true });
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('registry killed mid-pull', () => {
  it('restarted: the same pull resumes with a Range request and completes', async () => {
    const store = await Store.open(join(work, 'store-a'));
    const big = built.layers[1]!.digest;
    let killed = false;
    const res = await pull(ref(), {
      target: new StoreTarget(store),
      config,
      insecure: true,
      onBytes: (digest, done) => {
        if (digest !== big || killed || done < 4 << 20) return;
        killed = true;
        // Down long enough that a retry meets a refused connection, then back.
        void reg.kill().then(() => sleep(400)).then(() => reg.start());
      },
    });
    expect(killed).toBe(true);
    const layer = res.layers.find((l) => l.digest === big)!;
    expect(layer.resumedAt.length).toBeGreaterThan(0);
    expect(layer.resumedAt[0]).toBeGreaterThan(0);
    expect(layer.resumedAt[0]).toBeLessThan(SIZE);
    const img = await store.resolve(ref());
    expect((await readFile(join(store.layerDirs(img)[0]!, 'big.bin'))).equals(payload)).toBe(true);
  });

  it('left down: the pull fails naming the registry, the store is untouched; a retry later completes', async () => {
    const store = await Store.open(join(work, 'store-b'));
    const before = await listing(store.root);
    const big = built.layers[1]!.digest;
    let killed = false;
    const err = await pull(ref(), {
      target: new StoreTarget(store),
      config,
      insecure: true,
      retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
      onBytes: (digest, done) => {
        if (digest !== big || killed || done < 4 << 20) return;
        killed = true;
        void reg.kill();
      },
    }).catch((e: unknown) => e);
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toContain(reg.host);
    expect(await listing(store.root)).toEqual(before);

    await reg.start();
    const res = await pull(ref(), { target: new StoreTarget(store), config, insecure: true });
    expect(res.layers.map((l) => l.status)).toEqual(['pulled', 'pulled']);
    const img = await store.resolve(ref());
    expect((await readFile(join(store.layerDirs(img)[0]!, 'big.bin'))).equals(payload)).toBe(true);
  });
});
