/**
 * An OCI image layout directory (src/oci/layout.ts) as a pull target and a
 * push source. A pull's blobs stay in a temp dir inside the layout until
 * commit, so a failed pull adds nothing.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UnknownImageError } from '../errors.js';
import { OciLayoutDir, REF_NAME, tagOf } from '../oci/layout.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import type { BlobSource } from './blob-upload.js';
import type { PulledImage, PullTarget, PullTransaction, PushImage, PushSource } from './image-store.js';

export class OciLayout implements PullTarget, PushSource {
  readonly layout: OciLayoutDir;

  constructor(readonly dir: string) {
    this.layout = new OciLayoutDir(dir);
  }

  blobPath(digest: string): string {
    return this.layout.blobPath(digest);
  }

  async hasLayer(layer: { digest: string }): Promise<boolean> {
    return this.layout.hasBlob(layer.digest);
  }

  async hasImage(ref: string, imageId: string): Promise<boolean> {
    const desc = (await this.layout.index()).find((m) => m.annotations?.[REF_NAME] === tagOf(ref));
    if (!desc) return false;
    const m = parseManifest(await readFile(this.blobPath(desc.digest)), desc.mediaType, this.dir);
    return m.kind === 'image' && m.config.digest === imageId;
  }

  async begin(): Promise<PullTransaction> {
    await this.layout.init();
    const dir = await mkdtemp(join(this.dir, '.tmp-'));
    const added: Array<[string, string]> = [];
    return {
      dir,
      addLayer: async (layer, file) => void added.push([file, layer.digest]),
      commit: async (image) => {
        for (const [file, digest] of added) await this.layout.moveBlob(file, digest);
        await this.addImage(image);
      },
      discard: () => rm(dir, { recursive: true, force: true }),
    };
  }

  private async addImage(image: PulledImage): Promise<void> {
    await this.layout.putBlob(image.config);
    await this.layout.putBlob(image.manifest);
    await this.layout.tag(tagOf(image.ref), { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifest.length });
  }

  private blob(desc: Descriptor): BlobSource {
    return { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, open: (range) => this.layout.openBlob(desc.digest, range) };
  }

  /** `name` is the layout's ref.name (skopeo's oci:DIR:NAME) or a reference whose tag is. */
  async image(name: string): Promise<PushImage> {
    const desc = await this.layout.find(name);
    if (!desc) throw new UnknownImageError(`${name} (in OCI layout ${this.dir})`);
    const bytes = await this.layout.readBlob(desc.digest, 'manifest');
    const m = parseManifest(bytes, desc.mediaType, `${this.dir}: manifest ${desc.digest}`);
    if (m.kind !== 'image') throw new UnknownImageError(`${name} (an index in ${this.dir}; push one platform's manifest)`);
    return { manifest: bytes, manifestMediaType: m.mediaType, config: this.blob(m.config), layers: m.layers.map((l) => this.blob(l)) };
  }
}
