import { describe, expect, it } from 'vitest';
import { diffIds } from '../../src/oci/config.js';
import { MediaType } from '../../src/oci/media-type.js';
import { parseManifest, parsePlatform, selectPlatform, type Descriptor } from '../../src/oci/manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseManifest', () => {
  it.each([
    {
      case: 'OCI manifest',
      body: { schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: d('a'), size: 10 }, layers: [{ mediaType: MediaType.ociLayerGzip, digest: d('b'), size: 20 }] },
      contentType: MediaType.ociManifest,
      kind: 'image',
    },
    {
      case: 'Docker schema 2 without mediaType in the body',
      body: { schemaVersion: 2, config: { mediaType: MediaType.dockerConfig, digest: d('a'), size: 10 }, layers: [] },
      contentType: MediaType.dockerManifest,
      kind: 'image',
    },
    {
      case: 'Docker manifest list',
      body: { schemaVersion: 2, mediaType: MediaType.dockerList, manifests: [{ mediaType: MediaType.dockerManifest, digest: d('c'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }] },
      contentType: MediaType.dockerList,
      kind: 'index',
    },
    {
      case: 'OCI index without mediaType',
      body: { schemaVersion: 2, manifests: [] },
      contentType: MediaType.ociIndex,
      kind: 'index',
    },
  ])('reads an $case', ({ body, contentType, kind }) => {
    expect(parseManifest(json(body), contentType, 'm').kind).toBe(kind);
  });

  it.each([
    { case: 'not JSON', bytes: Buffer.from('{'), why: /m: not valid JSON/ },
    { case: 'schema 1', bytes: json({ schemaVersion: 1, fsLayers: [] }), why: /schema 1 manifests are not supported/ },
    { case: 'no layers', bytes: json({ schemaVersion: 2, config: { digest: d('a'), size: 1 } }), why: /manifest without layers/ },
    { case: 'a bad digest', bytes: json({ schemaVersion: 2, config: { digest: 'sha256:../../etc', size: 1 }, layers: [] }), why: /not a sha256 digest/ },
    { case: 'a negative size', bytes: json({ schemaVersion: 2, config: { digest: d('a'), size: -1 }, layers: [] }), why: /without a valid size/ },
  ])('rejects $case', ({ bytes, why }) => {
    expect(() => parseManifest(bytes, '', 'm')).toThrow(why);
  });
});

describe('selectPlatform', () => {
  const index: Descriptor[] = [
    { mediaType: '', digest: d('1'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: '', digest: d('2'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: '', digest: d('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: '', digest: d('4'), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
  ];
  it.each([
    { want: 'linux/amd64', digest: d('3') },
    { want: 'linux/arm64', digest: d('2') },
    { want: 'linux/arm64/v8', digest: d('2') },
    { want: 'linux/arm/v7', digest: d('1') },
    { want: 'windows/amd64', digest: d('4') },
  ])('$want', ({ want, digest }) => {
    expect(selectPlatform(index, parsePlatform(want), 'img').digest).toBe(digest);
  });
  it('names what is available when nothing matches', () => {
    expect(() => selectPlatform(index, parsePlatform('linux/arm/v6'), 'img')).toThrow('img: no manifest for linux/arm/v6 (available: linux/arm/v7, linux/arm64/v8, linux/amd64, windows/amd64)');
  });
  it.each([
    { given: 'linux', want: { os: 'linux', architecture: 'amd64' } },
    { given: 'amd64', want: { os: 'linux', architecture: 'amd64' } },
    { given: 'linux/x86_64', want: { os: 'linux', architecture: 'amd64' } },
    { given: 'LINUX/AArch64/v8', want: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ])('normalizes $given as docker does (on an amd64 host)', ({ given, want }) => {
    if (process.arch === 'x64') expect(parsePlatform(given)).toEqual(want);
  });
  it.each(['', 'linux/', '/amd64', 'a/b/c/d'])('rejects platform %s', (p) => {
    expect(() => parsePlatform(p)).toThrow(/invalid platform/);
  });
});

describe('diffIds', () => {
  it('reads rootfs.diff_ids and checks each', () => {
    expect(diffIds(json({ rootfs: { type: 'layers', diff_ids: [d('e')] } }), 'c')).toEqual([d('e')]);
    expect(() => diffIds(json({ rootfs: {} }), 'c')).toThrow(/c: config has no rootfs.diff_ids/);
    expect(() => diffIds(json({ rootfs: { diff_ids: ['sha256:zz'] } }), 'c')).toThrow(/not a sha256 digest/);
  });
});
