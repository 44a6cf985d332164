import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/oci/digest.js';
import { blobName, OciLayoutDir, readLayout, refsOf, tagOf } from '../../src/oci/layout.js';
import { MediaType } from '../../src/oci/media-type.js';

const made: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'layerfs-oci-layout-'));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

async function sample(dir: string) {
  const layout = new OciLayoutDir(dir);
  await layout.init();
  const layer = Buffer.from('not really a tar');
  const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length },
    layers: [{ mediaType: MediaType.ociLayer, digest: sha256(layer), size: layer.length }],
  });
  for (const b of [layer, config, manifest]) await layout.putBlob(b);
  await layout.tag('v1', { mediaType: MediaType.ociManifest, digest: sha256(manifest), size: manifest.length });
  return { layout, manifest, config };
}

describe('OCI layout', () => {
  it('writes a layout that it reads back, tagged with ref.name', async () => {
    const dir = fresh();
    const { layout, manifest, config } = await sample(dir);
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect((await layout.find('v1'))?.digest).toBe(sha256(manifest));
    expect((await layout.find('example.com/app:v1'))?.digest).toBe(sha256(manifest));
    expect(await layout.find('v2')).toBeUndefined();
    const images = await readLayout((n) => readFile(join(dir, n)), dir);
    expect(images.map((i) => [i.manifestDigest, i.manifest.config.digest, i.entry.annotations])).toEqual([
      [sha256(manifest), sha256(config), { 'org.opencontainers.image.ref.name': 'v1' }],
    ]);
  });

  it('retagging replaces the entry', async () => {
    const dir = fresh();
    const { layout, config } = await sample(dir);
    const other = await layout.putBlob(json({ schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.length }, layers: [] }));
    await layout.tag('v1', { mediaType: MediaType.ociManifest, digest: other, size: 1 });
    expect((await layout.index()).map((d) => d.digest)).toEqual([other]);
  });

  it('refuses a blob that does not match its digest', async () => {
    const dir = fresh();
    const { manifest } = await sample(dir);
    writeFileSync(join(dir, blobName(sha256(manifest))), Buffer.from('{"schemaVersion":2,"manifests":[]}'));
    await expect(readLayout((n) => readFile(join(dir, n)), dir)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('refuses a digest that would escape blobs/', () => {
    expect(() => blobName('sha256:../../etc/passwd')).toThrow(expect.objectContaining({ code: 'BAD_DIGEST' }));
  });

  it.each([
    ['example.com/app:v1', 'v1'],
    ['app', 'latest'],
    ['localhost:5000/app', 'latest'],
    [`app:2@sha256:${'a'.repeat(64)}`, '2'],
  ])('tagOf(%s) = %s', (ref, tag) => expect(tagOf(ref)).toBe(tag));

  it('names an image by a full reference in its annotations, not by a bare tag', () => {
    const d = { mediaType: MediaType.ociManifest, digest: sha256('x'), size: 1 };
    expect(refsOf({ ...d, annotations: { 'io.containerd.image.name': 'docker.io/library/busybox:1' } })).toEqual(['docker.io/library/busybox:1']);
    expect(refsOf({ ...d, annotations: { 'org.opencontainers.image.ref.name': 'v1' } })).toEqual([]);
  });
});
