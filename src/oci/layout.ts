/**
 * The OCI image layout: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
 *
 * `readLayout` walks any layout (a directory, a tar's files, the one inside a
 * Docker 25+ save) through a file reader and returns its image manifests,
 * every blob checked against the digest that names it. `OciLayoutDir` reads
 * and writes a layout directory: blobs go to a temp name and are renamed into
 * place, and tags are the `org.opencontainers.image.ref.name` annotation, as
 * skopeo's `oci:DIR:TAG` writes them.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BadManifestError } from '../errors.js';
import { checkDigest, hexOf, sha256, verifyDigest } from './digest.js';
import { hostPlatform, parseManifest, type Descriptor, type ImageIndex, type Manifest } from './manifest.js';
import { isIndexType, MediaType } from './media-type.js';
import { isRef, Reference } from './reference.js';

export const LAYOUT_FILE = 'oci-layout';
export const LAYOUT_JSON = JSON.stringify({ imageLayoutVersion: '1.0.0' });
export const INDEX_FILE = 'index.json';
/** The tag (or, as Docker and containerd write it, the full reference) of an index entry. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

/** A blob's path inside the layout; the digest is validated, since it becomes a file name. */
export const blobName = (digest: string): string => `blobs/sha256/${hexOf(checkDigest(digest, 'blob'))}`;

export const indexJson = (manifests: Descriptor[]): string => JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests } satisfies ImageIndex);

/** The tag part of `name[:tag]`, which is what a layout's ref.name holds. */
export function tagOf(ref: string): string {
  const at = ref.split('@')[0]!;
  const colon = at.lastIndexOf(':');
  return colon > at.lastIndexOf('/') ? at.slice(colon + 1) : 'latest';
}

/** Where a layout was read from: what a bare `ref.name` is taken with. */
export interface LayoutOrigin {
  kind: 'dir' | 'archive';
  /** The directory or archive path as given. */
  path: string;
}

const hasRegistry = (ref: string): boolean => {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost';
};

const localhostRef = (name: string): string[] => {
  try {
    const r = Reference.parse(name, { unqualified: 'localhost' });
    return r.digest === undefined ? [`${r.registry}/${r.repository}:${r.tag}`] : [];
  } catch {
    return [];
  }
};

/**
 * The references an index entry names its image by. containerd's
 * `io.containerd.image.name` and a `ref.name` with a registry host are full
 * references and name it as they are. A `ref.name` without one is read as
 * podman 4 reads it: in an archive, as a name under `localhost/`
 * (`fx-app` → `localhost/fx-app:latest`, `fx-app:v3` → `localhost/fx-app:v3`);
 * in a directory it is ignored and the directory names the image
 * (`/tmp/x/layout` → `localhost/tmp/x/layout:latest`). Without an origin a
 * bare value names nothing.
 */
export function refsOf(d: Descriptor, origin?: LayoutOrigin): string[] {
  const a = d.annotations ?? {};
  const full = a[CONTAINERD_NAME] ?? a[REF_NAME];
  if (full !== undefined && hasRegistry(full) && isRef(full)) return [full];
  if (full !== undefined && a[CONTAINERD_NAME] !== undefined && full.includes(':') && isRef(full)) return [full];
  if (origin === undefined || a[REF_NAME] === undefined) return [];
  if (origin.kind === 'archive') return localhostRef(a[REF_NAME]);
  return localhostRef(`${resolve(origin.path).slice(1).toLowerCase()}:latest`);
}

export interface LayoutImage {
  manifest: Extract<Manifest, { kind: 'image' }>;
  /** The index entry that led here (top level): its annotations name the image. */
  entry: Descriptor;
  manifestDigest: string;
}

/** Reads a whole file of the layout (`index.json`, `blobs/sha256/<hex>`). */
export type LayoutFileReader = (name: string) => Promise<Buffer>;

/** Reads a blob and checks it against its digest; errors say `SOURCE: blobs/sha256/HEX (KIND)`. */
export async function readBlob(read: LayoutFileReader, digest: string, source: string, kind: string): Promise<Buffer> {
  const name = blobName(checkDigest(digest, `${source}: ${kind}`));
  const bytes = await read(name);
  verifyDigest(`${source}: ${name} (${kind})`, digest, sha256(bytes));
  return bytes;
}

/** From a nested index, the manifest for this machine, else the first. */
function pick(ds: Descriptor[]): Descriptor[] {
  const { os, architecture } = hostPlatform();
  const mine = ds.filter((d) => !d.platform || (d.platform.os === os && d.platform.architecture === architecture));
  return mine.length ? mine.slice(0, 1) : ds.slice(0, 1);
}

/** Every image manifest `index.json` leads to (one platform's from a nested index). */
export async function readLayout(read: LayoutFileReader, source: string): Promise<LayoutImage[]> {
  const top = parseManifest(await read(INDEX_FILE), MediaType.ociIndex, `${source}: ${INDEX_FILE}`);
  if (top.kind !== 'index') throw new BadManifestError(`${source}: ${INDEX_FILE}`, 'no manifests list');
  const found: LayoutImage[] = [];
  const walk = async (ds: Descriptor[], entry: Descriptor | null, depth: number): Promise<void> => {
    for (const d of ds) {
      const what = `${source}: ${blobName(d.digest)}`;
      if (depth > 4) throw new BadManifestError(what, 'indexes nested too deep');
      const bytes = await readBlob(read, d.digest, source, isIndexType(d.mediaType) ? 'index' : 'manifest');
      const m = parseManifest(bytes, d.mediaType, what);
      if (m.kind === 'index') await walk(pick(m.manifests), entry ?? d, depth + 1);
      else found.push({ manifest: m, entry: entry ?? d, manifestDigest: d.digest });
    }
  };
  await walk(top.manifests, null, 0);
  return found;
}

/** A layout directory, read and written. */
export class OciLayoutDir {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, blobName(digest));
  }

  openBlob(digest: string, range?: { start?: number; end?: number }): ReadStream {
    return createReadStream(this.blobPath(digest), range);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(() => true, () => false);
  }

  /** A blob read whole and verified. */
  readBlob(digest: string, kind: string): Promise<Buffer> {
    return readBlob((name) => readFile(join(this.dir, name)), digest, this.dir, kind);
  }

  /** Creates the layout's skeleton (safe when it exists). */
  async init(): Promise<void> {
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(this.dir, LAYOUT_FILE), LAYOUT_JSON);
  }

  async index(): Promise<Descriptor[]> {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, INDEX_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const m = parseManifest(bytes, MediaType.ociIndex, `${this.dir}: ${INDEX_FILE}`);
    if (m.kind !== 'index') throw new BadManifestError(`${this.dir}: ${INDEX_FILE}`, 'no manifests list');
    return m.manifests;
  }

  /** The index entry tagged `name` (a layout tag, or a reference whose tag is one). */
  async find(name: string): Promise<Descriptor | undefined> {
    const index = await this.index();
    const named = (n: string) => index.find((m) => m.annotations?.[REF_NAME] === n);
    return named(name) ?? named(tagOf(name));
  }

  /** Writes a small blob; returns its digest. */
  async putBlob(bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const tmp = `${this.blobPath(digest)}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, this.blobPath(digest));
    return digest;
  }

  /** Moves a verified blob file (on the same filesystem) into place. */
  async moveBlob(file: string, digest: string): Promise<void> {
    await rename(file, this.blobPath(digest));
  }

  /** Points tag `tag` at `manifest` (replacing what it named), writing index.json atomically. */
  async tag(tag: string, manifest: Descriptor): Promise<void> {
    const index = (await this.index()).filter((m) => m.annotations?.[REF_NAME] !== tag);
    index.push({ ...manifest, annotations: { ...manifest.annotations, [REF_NAME]: tag } });
    const tmp = join(this.dir, `${INDEX_FILE}.tmp`);
    await writeFile(tmp, indexJson(index));
    await rename(tmp, join(this.dir, INDEX_FILE));
  }
}
