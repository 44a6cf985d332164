/** Interop with skopeo, both ways, through a real registry. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlatform } from '../../src/oci/manifest.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { StoreTarget } from '../../src/registry/store-adapter.js';
import { ensureBuiltin } from '../../src/store/hello-world.js';
import { Store } from '../../src/store/store.js';
import { writeOciImage, writeOciIndex } from './helpers/oci-image.js';
import { captured } from './helpers/output.js';
import { TestRegistry } from './helpers/registry-server.js';

const run = promisify(execFile);
let reg: TestRegistry;
let work: string;
let config: RegistryConfig;

/** skopeo with a policy of its own, so the machine's /etc/containers does not matter. */
const skopeo = async (...args: string[]) => (await run('skopeo', ['--policy', join(work, 'policy.json'), ...args], { timeout: 60_000 })).stdout;

beforeAll(async () => {
  reg = await TestRegistry.start();
  work = await mkdtemp(join(tmpdir(), 'layerfs-skopeo-'));
  config = await RegistryConfig.load(join(work, 'config.json'));
  await writeFile(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('skopeo interop', () => {
  it.each([
    { format: 'v2s2', mediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
    { format: 'oci', mediaType: 'application/vnd.oci.image.manifest.v1+json' },
  ])('layerfs pulls an image skopeo pushed ($format)', async ({ format, mediaType }) => {
    const src = join(work, `src-${format}`);
    await writeOciImage(src, 'v1', [{ 'etc/issue': `pushed by skopeo as ${format}\n` }, { 'usr/bin/tool': '#!/bin/sh\n' }]);
    const ref = `${reg.host}/skopeo/${format}:v1`;
    await skopeo('copy', '--quiet', '--format', format, '--dest-tls-verify=false', `oci:${src}:v1`, `docker://${ref}`);
    const raw = JSON.parse(await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${ref}`)) as { mediaType: string };
    expect(raw.mediaType).toBe(mediaType);

    const store = await Store.open(join(work, `store-${format}`));
    const out = captured();
    await pull(ref, { target: new StoreTarget(store), config, insecure: true, onProgress: out.progress });
    expect(out.lines().filter((l) => l.endsWith('Pull complete'))).toHaveLength(2);
    const img = await store.resolve(ref);
    const [top, base] = store.layerDirs(img);
    expect(await readFile(join(base!, 'etc/issue'), 'utf8')).toBe(`pushed by skopeo as ${format}\n`);
    expect(await readFile(join(top!, 'usr/bin/tool'), 'utf8')).toBe('#!/bin/sh\n');
  });

  it('layerfs picks linux/amd64 from an index skopeo pushed, or the --platform asked for', async () => {
    const src = join(work, 'multi');
    const amd = await writeOciImage(src, 'amd', [{ arch: 'amd64\n' }], { architecture: 'amd64' });
    const arm = await writeOciImage(src, 'arm', [{ arch: 'arm64\n' }], { architecture: 'arm64' });
    const indexDigest = await writeOciIndex(src, 'multi', [
      { image: arm, platform: { os: 'linux', architecture: 'arm64' } },
      { image: amd, platform: { os: 'linux', architecture: 'amd64' } },
    ]);
    const ref = `${reg.host}/skopeo/multi:latest`;
    await skopeo('copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${src}:multi`, `docker://${ref}`);

    const cases = [
      { platform: undefined, want: amd, content: 'amd64\n' },
      { platform: 'linux/arm64', want: arm, content: 'arm64\n' },
    ];
    for (const c of cases) {
      const store = await Store.open(join(work, `store-multi-${c.platform ?? 'default'}`));
      const out = captured();
      const res = await pull(ref, { target: new StoreTarget(store), config, insecure: true, onProgress: out.progress, ...(c.platform ? { platform: parsePlatform(c.platform) } : {}) });
      expect(res.digest).toBe(indexDigest);
      expect(res.manifestDigest).toBe(c.want.manifestDigest);
      expect(out.lines()).toContain(`Digest: ${indexDigest}`);
      const img = await store.resolve(ref);
      expect(await readFile(join(store.layerDirs(img)[0]!, 'arch'), 'utf8')).toBe(c.content);
    }
    const none = await Store.open(join(work, 'store-multi-none'));
    await expect(pull(ref, { target: new StoreTarget(none), config, insecure: true, platform: parsePlatform('linux/s390x') })).rejects.toThrow(
      /no manifest for linux\/s390x \(available: linux\/arm64, linux\/amd64\)/,
    );
  });

  it('skopeo pulls an image layerfs pushed (the builtin hello-world)', async () => {
    const store = await Store.open(join(work, 'store-hello'));
    const hello = await ensureBuiltin(store, 'hello-world');
    const ref = `${reg.host}/library/hello-world:latest`;
    const pushed = await push('hello-world', ref, { source: new StoreTarget(store), config, insecure: true });
    const gz = (await store.compressedLayer(hello.layers[0]!.diffId, 'gzip'))!;

    const inspect = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${ref}`)) as { Digest: string; Layers: string[]; Architecture: string };
    expect(inspect.Digest).toBe(pushed.digest);
    expect(inspect.Layers).toEqual([gz.digest]);
    expect(inspect.Architecture).toBe('amd64');

    const dst = join(work, 'skopeo-dst');
    await skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dst}:hello`);
    expect((await readFile(join(dst, 'blobs/sha256', gz.digest.slice(7)))).equals(await readFile(gz.path))).toBe(true);
    expect(gunzipSync(await readFile(gz.path)).equals(await readFile(store.blobPath(hello.layers[0]!.digest)))).toBe(true);
  });
});
