/** push then pull against a real registry, through OCI layout directories. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayerProgress } from '../../src/cli/transfer-progress.js';
import { OciLayout } from '../../src/registry/layout-target.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { writeOciImage } from './helpers/oci-image.js';
import { TestRegistry } from './helpers/registry-server.js';

let reg: TestRegistry;
let work: string;
let config: RegistryConfig;

const output = () => {
  let text = '';
  return { out: { write: (s: string) => (text += s), isTTY: false }, text: () => text };
};

beforeAll(async () => {
  reg = await TestRegistry.start();
  work = await mkdtemp(join(tmpdir(), 'layerfs-rt-'));
  config = await RegistryConfig.load(join(work, 'config.json'));
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('push then pull', () => {
  it('round-trips an image and reports layers like docker', async () => {
    const src = join(work, 'src');
    const built = await writeOciImage(src, 'v1', [{ 'etc/os-release': 'ID=test\n' }, { 'bin/hello': 'hi\n', 'etc/motd': 'x' }]);
    const ref = `${reg.host}/test/app:v1`;

    const p = output();
    const pushed = await push('v1', ref, { source: new OciLayout(src), config, insecure: true, onProgress: new LayerProgress(p.out).listener() });
    expect(pushed.digest).toBe(built.manifestDigest);
    expect(pushed.layers.map((l) => l.status)).toEqual(['pushed', 'pushed']);
    const short = built.layers.map((l) => l.digest.slice(7, 19));
    // Layers finish in any order; the first and last lines are fixed.
    const lines = p.text().split('\n');
    expect(lines[0]).toBe(`The push refers to repository [${reg.host}/test/app]`);
    expect(lines.slice(1, 3).sort()).toEqual([`${short[0]}: Pushed`, `${short[1]}: Pushed`].sort());
    expect(lines.slice(3)).toEqual([`v1: digest: ${built.manifestDigest} size: ${pushed.size}`, '']);

    const dst = join(work, 'dst');
    const q = output();
    const pulled = await pull(ref, { target: new OciLayout(dst), config, insecure: true, onProgress: new LayerProgress(q.out).listener() });
    expect(pulled.imageId).toBe(built.configDigest);
    expect(pulled.upToDate).toBe(false);
    expect(q.text().split('\n')).toEqual([
      `${short[0]}: Pull complete`,
      `${short[1]}: Pull complete`,
      `Digest: ${built.manifestDigest}`,
      `Status: Downloaded newer image for ${ref}`,
      '',
    ]);
    for (const l of built.layers) {
      expect(await readFile(join(dst, 'blobs/sha256', l.digest.slice(7)))).toEqual(await readFile(join(src, 'blobs/sha256', l.digest.slice(7))));
    }

    // Again: nothing to download, and the image is already the one the tag names.
    const r = output();
    const again = await pull(ref, { target: new OciLayout(dst), config, insecure: true, onProgress: new LayerProgress(r.out).listener() });
    expect(again.upToDate).toBe(true);
    expect(again.layers.map((l) => l.status)).toEqual(['exists', 'exists']);
    expect(r.text()).toContain(`${short[0]}: Already exists\n${short[1]}: Already exists\n`);
    expect(r.text()).toContain(`Status: Image is up to date for ${ref}\n`);

    // Pushing again: the registry has every blob.
    const s = output();
    const repushed = await push('v1', ref, { source: new OciLayout(src), config, insecure: true, onProgress: new LayerProgress(s.out).listener() });
    expect(repushed.layers.map((l) => l.status)).toEqual(['exists', 'exists']);
    expect(s.text()).toContain(`${short[0]}: Layer already exists\n`);
  });

  it('uploads a large blob in PATCH chunks', async () => {
    const src = join(work, 'chunked');
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const built = await writeOciImage(src, 'big', [{ 'data/blob': big }], { gzip: false });
    const ref = `${reg.host}/test/chunked:big`;
    await push('big', ref, { source: new OciLayout(src), config, insecure: true, chunkSize: 64 * 1024 });
    const dst = join(work, 'chunked-dst');
    await pull(ref, { target: new OciLayout(dst), config, insecure: true });
    const hex = built.layers[0]!.digest.slice(7);
    expect((await readFile(join(dst, 'blobs/sha256', hex))).equals(await readFile(join(src, 'blobs/sha256', hex)))).toBe(true);
  });

  it('refuses plain http unless told', async () => {
    const dst = join(work, 'never');
    await expect(pull(`${reg.host}/test/app:v1`, { target: new OciLayout(dst), config, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } })).rejects.toThrow(/TLS handshake failed.*--insecure/);
  });
});
