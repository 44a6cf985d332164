/**
 * The layer store (src/store) as a pull target and a push source.
 * A pull is one store import (Staging): each blob is unpacked through the
 * store's safe extraction path, which checks its digest and its diff_id, and
 * nothing appears in the store before the commit. A push reads the manifest
 * the store wrote for the image and the blobs it kept; a plain layer is
 * compressed once and the compressed blob kept beside it (see Store.keepCompressedLayer).
 */
import { createReadStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { UnknownImageError } from '../errors.js';
import type { Staging } from '../store/staging.js';
import type { Store } from '../store/store.js';
import type { LayerRef } from '../store/types.js';
import type { BlobSource } from './blob-upload.js';
import type { PullTarget, PullTransaction, PushImage, PushSource } from './image-store.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import { layerMediaType } from '../oci/media-type.js';
import { compressToFile, type CompressedBlob } from './compress-blob.js';

/** Pulls by digest are stored untagged, as docker does. */
const tagsFor = (ref: string): string[] => (ref.includes('@') ? [] : [ref]);

export class StoreTarget implements PullTarget, PushSource {
  constructor(readonly store: Store) {}

  async hasLayer(layer: { diffId: string }): Promise<boolean> {
    return (await this.store.layer(layer.diffId)) !== null;
  }

  async hasImage(ref: string, imageId: string): Promise<boolean> {
    if (ref.includes('@')) return (await this.store.images()).some((r) => r.id === imageId);
    try {
      return (await this.store.resolve(ref)).id === imageId;
    } catch (err) {
      if (err instanceof UnknownImageError) return false;
      throw err;
    }
  }

  async begin(): Promise<PullTransaction> {
    const staging: Staging = await this.store.begin();
    const staged = new Map<string, LayerRef>();
    return {
      dir: staging.dir,
      addLayer: async (layer, file) => {
        const ref = await staging.addLayer(() => createReadStream(file), { name: `layer ${layer.digest}`, digest: layer.digest, diffId: layer.diffId });
        staged.set(layer.diffId, ref);
      },
      commit: async (image) => {
        const layers: LayerRef[] = [];
        for (const l of image.layers) {
          const ref = staged.get(l.diffId) ?? (await this.store.layer(l.diffId));
          if (!ref) throw new UnknownImageError(`layer ${l.diffId} of ${image.ref} (removed while pulling; pull again)`);
          layers.push(ref);
        }
        await staging.addImage(image.config, layers, tagsFor(image.ref), image.ref);
        await staging.commit();
      },
      discard: () => staging.discard(),
    };
  }

  async recordDigest(image: string, repoDigest: string): Promise<void> {
    const id = image.startsWith('sha256:') && image.length === 71 ? image : (await this.store.resolve(image)).id;
    await this.store.addRepoDigest(id, repoDigest);
  }

  async compressed(layer: BlobSource, kind: 'gzip' | 'zstd'): Promise<BlobSource> {
    // A plain layer's blob is its tar: its digest is its diff_id, the name of its directory.
    const diffId = layer.digest;
    const kept =
      (await this.store.compressedLayer(diffId, kind)) ??
      (await this.store.keepCompressedLayer(diffId, kind, ...(await this.compress(layer, kind))));
    return { digest: kept.digest, size: kept.size, mediaType: layerMediaType(kind), open: (range) => createReadStream(kept.path, range) };
  }

  private async compress(layer: BlobSource, kind: 'gzip' | 'zstd'): Promise<[string, CompressedBlob]> {
    const file = this.store.tmpPath(`${kind}`);
    try {
      return [file, await compressToFile(layer.open(), kind, file)];
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  private blob(desc: Descriptor): BlobSource {
    const path = this.store.blobPath(desc.digest);
    return { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, open: (range) => createReadStream(path, range) };
  }

  async image(name: string): Promise<PushImage> {
    const record = await this.store.resolve(name);
    const bytes = await readFile(this.store.blobPath(record.manifestDigest));
    const m = parseManifest(bytes, '', `${this.store.root}: manifest of ${name}`);
    if (m.kind !== 'image') throw new UnknownImageError(`${name} (its manifest is an index)`);
    return { manifest: bytes, manifestMediaType: m.mediaType, config: this.blob(m.config), layers: m.layers.map((l) => this.blob(l)) };
  }
}
