/**
 * The layer store (src/store) as a pull target and a push source.
 * A pull is one store import (Staging): each blob is unpacked through the
 * store's safe extraction path, which checks its digest and its diff_id, and
 * nothing appears in the store before the commit. A push reads the manifest
 * the store wrote for the image and the blobs it kept.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { UnknownImageError } from '../errors.js';
import type { Staging } from '../store/staging.js';
import type { Store } from '../store/store.js';
import type { LayerRef } from '../store/types.js';
import type { BlobSource } from './blob-upload.js';
import type { PullTarget, PullTransaction, PushImage, PushSource } from './image-store.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';

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
