/**
 * One import, staged: layers are unpacked and blobs written into a private
 * temp dir inside the store root (same filesystem, so renames work), and
 * nothing in the store changes until `commit`, which renames them into place
 * under the store lock. A failed import only has its temp dir to remove.
 */
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BadArchiveError, DigestMismatchError, LayerfsError } from '../errors.js';
import { decompress, layerMediaType, type Compression } from './decompress.js';
import { hexOf, sha256, verifyDigest } from '../oci/digest.js';
import { withLock } from './lock.js';
import { normalizeRef } from '../oci/reference.js';
import type { ImageConfig } from '../oci/config.js';
import type { ImageManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-type.js';
import type { ImageRecord, LayerRef, Opener } from './types.js';
import { unpack, type UnpackLimits } from './unpack.js';
import type { SpaceBudget } from './disk-space.js';

export interface LayerExpect {
  /** Names the layer in errors (e.g. `archive.tar: blobs/sha256/ab…`). */
  name: string;
  /** Expected blob digest (as the manifest says). */
  digest?: string;
  /** Expected digest of the uncompressed tar (the config's diff_id). */
  diffId?: string;
  limits?: Partial<UnpackLimits>;
  devices?: boolean;
  /** Bytes of the blob read so far, for progress. */
  onBytes?: (n: number) => void;
}

/**
 * What an import needs of the store it commits into (the Store implements
 * it), so that this module does not depend on store.ts, which creates it.
 */
export interface StagingHost {
  readonly root: string;
  blobPath(digest: string): string;
  hasBlob(digest: string): Promise<boolean>;
  /** The stored layer with this diff_id, or null. */
  layer(diffId: string): Promise<LayerRef | null>;
  /** Call with the lock held. */
  writeRecord(record: ImageRecord): Promise<void>;
  readTags(): Promise<Record<string, string>>;
  /** Call with the lock held. */
  writeTags(tags: Record<string, string>): Promise<void>;
}

export class Staging {
  private readonly layers = new Map<string, LayerRef>();
  private readonly blobs = new Set<string>();
  private readonly images: Array<{ record: ImageRecord; tags: string[] }> = [];
  private n = 0;

  constructor(
    private readonly store: StagingHost,
    readonly dir: string,
    /** What this import may write: every file and blob asks first. */
    readonly space: SpaceBudget,
  ) {}

  /** Stages a small blob (config, manifest) held in memory; returns its digest. */
  async putBlob(data: Buffer): Promise<string> {
    const digest = sha256(data);
    if (!this.blobs.has(digest) && !(await this.store.hasBlob(digest))) {
      await writeFile(join(this.dir, 'blobs', hexOf(digest)), data);
      this.blobs.add(digest);
    }
    return digest;
  }

  /**
   * Reads a layer blob once: keeps the blob, unpacks the tar, checks both
   * digests at the end of the stream. A layer the store (or this import)
   * already has is not read again.
   */
  async addLayer(open: Opener, expect: LayerExpect): Promise<LayerRef> {
    if (expect.diffId) {
      const known = this.layers.get(expect.diffId) ?? (await this.store.layer(expect.diffId));
      if (known) return known;
    }
    const slot = join(this.dir, 'layers', String(this.n++));
    const diff = join(slot, 'diff');
    await mkdir(slot, { recursive: true, mode: 0o700 });
    // A layer without an entry for its root gets docker's 0755 root.
    await mkdir(diff);
    await chmod(diff, 0o755); // whatever the umask
    const blobTmp = join(this.dir, 'blobs', `tmp-${this.n}`);
    const out = createWriteStream(blobTmp);
    const raw = createHash('sha256');
    const plain = createHash('sha256');
    let rawSize = 0;
    let compression: Compression = 'none';
    const src = await open();
    const space = this.space;
    async function* rawChunks(): AsyncGenerator<Buffer> {
      for await (const c of src as AsyncIterable<Buffer>) {
        await space.need(c.length, `${expect.name} (blob)`);
        raw.update(c);
        rawSize += c.length;
        expect.onBytes?.(c.length);
        if (!out.write(c)) await once(out, 'drain');
        yield c;
      }
    }
    async function* plainChunks(): AsyncGenerator<Buffer> {
      for await (const c of decompress(rawChunks(), (k) => (compression = k))) {
        plain.update(c);
        yield c;
      }
    }
    let unpacked;
    try {
      unpacked = await unpack(plainChunks(), diff, { source: expect.name, limits: expect.limits, devices: expect.devices, space });
    } finally {
      src.destroy();
      out.end();
      await once(out, 'close').catch(() => {});
    }
    const digest = `sha256:${raw.digest('hex')}`;
    const diffId = `sha256:${plain.digest('hex')}`;
    verifyDigest(`${expect.name} (blob)`, expect.digest, digest);
    verifyDigest(`${expect.name} (uncompressed, config diff_id)`, expect.diffId, diffId);

    const existing = this.layers.get(diffId) ?? (await this.store.layer(diffId));
    if (existing) {
      await rm(slot, { recursive: true, force: true });
      await rm(blobTmp, { force: true });
      return existing;
    }
    const ref: LayerRef = { digest, diffId, mediaType: layerMediaType(compression), size: rawSize, unpackedSize: unpacked.unpackedSize };
    await writeFile(join(slot, 'layer.json'), JSON.stringify(ref, null, 2));
    await rename(slot, join(this.dir, 'layers', hexOf(diffId)));
    if (this.blobs.has(digest) || (await this.store.hasBlob(digest))) await rm(blobTmp, { force: true });
    else {
      await rename(blobTmp, join(this.dir, 'blobs', hexOf(digest)));
      this.blobs.add(digest);
    }
    this.layers.set(diffId, ref);
    return ref;
  }

  /**
   * Stages an image: its config (exact bytes: they define the image ID), the
   * layers it names in order, and the tags to point at it. A manifest is
   * written from the layers as stored, so `save` can hand the image on.
   */
  async addImage(configBytes: Buffer, layers: LayerRef[], tags: string[], source: string): Promise<ImageRecord> {
    let config: ImageConfig;
    try {
      config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    } catch (err) {
      throw new BadArchiveError(source, `image config is not JSON: ${(err as Error).message}`);
    }
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
      throw new BadArchiveError(source, `image config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids for ${layers.length} layers`);
    }
    diffIds.forEach((d, i) => {
      if (d !== layers[i]!.diffId) throw new DigestMismatchError(`${source}: layer ${i + 1} (config diff_id)`, String(d), layers[i]!.diffId);
    });
    const id = await this.putBlob(configBytes);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: id, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestDigest = await this.putBlob(Buffer.from(JSON.stringify(manifest)));
    const record: ImageRecord = {
      id,
      manifestDigest,
      layers,
      repoTags: tags.map(normalizeRef),
      created: typeof config.created === 'string' ? config.created : undefined,
      loadedAt: new Date().toISOString(),
    };
    this.images.push({ record, tags: record.repoTags });
    return record;
  }

  /** Renames everything staged into the store under its lock; returns the images with their tags. */
  async commit(): Promise<ImageRecord[]> {
    const root = this.store.root;
    return withLock(root, async () => {
      for (const diffId of this.layers.keys()) {
        const to = join(root, 'layers', hexOf(diffId));
        if (!(await exists(to))) await rename(join(this.dir, 'layers', hexOf(diffId)), to);
      }
      for (const digest of this.blobs) {
        const to = this.store.blobPath(digest);
        if (!(await exists(to))) await rename(join(this.dir, 'blobs', hexOf(digest)), to);
      }
      for (const { record } of this.images) {
        for (const l of record.layers) {
          if (!(await this.store.layer(l.diffId))) {
            throw new LayerfsError('STORE_RACE', `layer ${l.diffId} was removed while it was being loaded; run the load again`);
          }
        }
        await this.store.writeRecord(record);
      }
      const tags = await this.store.readTags();
      for (const { record, tags: names } of this.images) for (const t of names) tags[t] = record.id;
      await this.store.writeTags(tags);
      return this.images.map(({ record }) => ({ ...record, repoTags: Object.keys(tags).filter((t) => tags[t] === record.id) }));
    });
  }

  async discard(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
