/**
 * `save`: images out as one tar. The default is an OCI image layout (which,
 * with its manifest.json and repositories, Docker 25+ also loads); the
 * docker-archive form is the classic one, `<config>.json` plus
 * `<id>/layer.tar` with uncompressed layers, as `docker load`, podman and
 * skopeo read it. Blobs are copied as stored, so every digest stays valid.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable, type Writable } from 'node:stream';
import { join } from 'node:path';
import tar from 'tar-stream';
import { decompress } from './decompress.js';
import { hexOf, sha256 } from '../oci/digest.js';
import { isRef, normalizeRef, parseRef } from '../oci/reference.js';
import type { Store } from './store.js';
import { blobName, CONTAINERD_NAME, INDEX_FILE, indexJson, LAYOUT_FILE, LAYOUT_JSON, REF_NAME } from '../oci/layout.js';
import type { Descriptor } from '../oci/manifest.js';
import { isPlainLayerType, MediaType } from '../oci/media-type.js';
import type { ImageRecord } from './types.js';

export type SaveFormat = 'oci-archive' | 'docker-archive';

interface Selected {
  image: ImageRecord;
  /** The tags to record: the one asked for, or all of them when asked by ID. */
  tags: string[];
}

async function select(store: Store, refs: string[]): Promise<Selected[]> {
  const out: Selected[] = [];
  for (const ref of refs) {
    const image = await store.resolve(ref);
    const tags = isRef(ref) && image.repoTags.includes(normalizeRef(ref)) ? [normalizeRef(ref)] : image.repoTags;
    const seen = out.find((s) => s.image.id === image.id);
    if (seen) seen.tags = [...new Set([...seen.tags, ...tags])];
    else out.push({ image, tags });
  }
  return out;
}

/** Adds one entry to a tar-stream pack from a stream of known size. */
async function addStream(pack: tar.Pack, name: string, size: number, body: Readable): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (err) => (err ? reject(err) : resolve()));
    body.on('error', reject);
    body.pipe(sink as unknown as Writable);
  });
}

async function addBuffer(pack: tar.Pack, name: string, data: Buffer | string): Promise<void> {
  await new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, Buffer.from(data), (err) => (err ? reject(err) : resolve())));
}

async function addBlob(store: Store, pack: tar.Pack, written: Set<string>, digest: string, name = blobName(digest)): Promise<void> {
  if (written.has(name)) return;
  written.add(name);
  const { size } = await stat(store.blobPath(digest));
  await addStream(pack, name, size, store.openBlob(digest));
}

function repositories(selected: Selected[], id: (s: Selected) => string): string {
  const repos: Record<string, Record<string, string>> = {};
  for (const s of selected) for (const t of s.tags) {
    const { name, tag } = parseRef(t);
    (repos[name] ??= {})[tag] = id(s);
  }
  return JSON.stringify(repos);
}

async function writeOci(store: Store, pack: tar.Pack, selected: Selected[]): Promise<void> {
  const written = new Set<string>();
  const index: Descriptor[] = [];
  const manifestJson: object[] = [];
  await addBuffer(pack, LAYOUT_FILE, LAYOUT_JSON);
  for (const s of selected) {
    const { image } = s;
    for (const l of image.layers) await addBlob(store, pack, written, l.digest);
    await addBlob(store, pack, written, image.id);
    await addBlob(store, pack, written, image.manifestDigest);
    const { size } = await stat(store.blobPath(image.manifestDigest));
    const desc = { mediaType: MediaType.ociManifest, digest: image.manifestDigest, size };
    if (s.tags.length === 0) index.push(desc);
    for (const t of s.tags) {
      index.push({ ...desc, annotations: { [CONTAINERD_NAME]: t, [REF_NAME]: t } });
    }
    manifestJson.push({ Config: blobName(image.id), RepoTags: s.tags, Layers: image.layers.map((l) => blobName(l.digest)) });
  }
  await addBuffer(pack, INDEX_FILE, indexJson(index));
  await addBuffer(pack, 'manifest.json', JSON.stringify(manifestJson));
  await addBuffer(pack, 'repositories', repositories(selected, (s) => hexOf(s.image.id)));
}

/** A stored layer as an uncompressed tar file (the blob itself when it is not compressed). */
async function plainLayer(store: Store, tmp: string, digest: string, mediaType: string): Promise<string> {
  if (isPlainLayerType(mediaType)) return store.blobPath(digest);
  const path = join(tmp, hexOf(digest));
  await pipeline(Readable.from(decompress(store.openBlob(digest) as AsyncIterable<Buffer>)), createWriteStream(path));
  return path;
}

async function writeDocker(store: Store, pack: tar.Pack, selected: Selected[]): Promise<void> {
  const tmp = await mkdtemp(join(store.root, 'tmp', `${process.pid}-save-`));
  try {
    const written = new Set<string>();
    const manifest: object[] = [];
    const topIds = new Map<Selected, string>();
    for (const s of selected) {
      const layers: string[] = [];
      let parent = '';
      for (const l of s.image.layers) {
        // A v1-style id per layer position: the chain of diff_ids, as docker's own export derives one.
        const id = hexOf(sha256(`${parent}\n${l.diffId}`));
        const name = `${id}/layer.tar`;
        if (!written.has(name)) {
          written.add(name);
          await addBuffer(pack, `${id}/VERSION`, '1.0');
          await addBuffer(pack, `${id}/json`, JSON.stringify({ id, ...(parent ? { parent } : {}) }));
          const path = await plainLayer(store, tmp, l.digest, l.mediaType);
          await addStream(pack, name, (await stat(path)).size, createReadStream(path));
        }
        layers.push(name);
        parent = id;
      }
      topIds.set(s, parent);
      await addBlob(store, pack, written, s.image.id, `${hexOf(s.image.id)}.json`);
      manifest.push({ Config: `${hexOf(s.image.id)}.json`, RepoTags: s.tags, Layers: layers });
    }
    await addBuffer(pack, 'manifest.json', JSON.stringify(manifest));
    await addBuffer(pack, 'repositories', repositories(selected, (s) => topIds.get(s) ?? ''));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Writes the images `refs` name to `out` (a file path, written to a temp name
 * and renamed when complete, or a stream such as stdout).
 */
export async function saveImages(store: Store, refs: string[], out: string | Writable, format: SaveFormat = 'oci-archive'): Promise<void> {
  const selected = await select(store, refs);
  const pack = tar.pack();
  const target = typeof out === 'string' ? `${out}.${process.pid}.tmp` : null;
  const sink = target ? createWriteStream(target) : (out as Writable);
  const done = pipeline(pack as unknown as Readable, sink, { end: target !== null });
  try {
    await (format === 'docker-archive' ? writeDocker : writeOci)(store, pack, selected);
    pack.finalize();
    await done;
    if (target) await rename(target, out as string);
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => {});
    if (target) await rm(target, { force: true });
    throw err;
  }
}
