/**
 * An OCI image layout directory (`oci-layout`, `index.json`,
 * `blobs/sha256/HEX`) as a pull target and a push source. Tags are the
 * `org.opencontainers.image.ref.name` annotation, as skopeo's `oci:DIR:TAG`
 * writes them. Blobs are written to a temp name and renamed into place.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UnknownImageError } from '../errors.js';
import type { BlobSource } from './blob-upload.js';
import { checkDigest, sha256 } from './digest.js';
import type { PulledImage, PullTarget, PullTransaction, PushImage, PushSource } from './image-store.js';
import { MediaType, parseManifest, type Descriptor } from './manifest.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The tag part of `name[:tag]`, which is what the layout's ref.name holds. */
const tagOf = (ref: string): string => {
  const at = ref.split('@')[0]!;
  const colon = at.lastIndexOf(':');
  return colon > at.lastIndexOf('/') ? at.slice(colon + 1) : 'latest';
};

export class OciLayout implements PullTarget, PushSource {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', checkDigest(digest, `${this.dir}: blob`).slice(7));
  }

  private async init(): Promise<void> {
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  private async index(): Promise<Index> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as Index;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      throw err;
    }
  }

  async hasLayer(layer: { digest: string }): Promise<boolean> {
    return stat(this.blobPath(layer.digest)).then(() => true, () => false);
  }

  async hasImage(ref: string, imageId: string): Promise<boolean> {
    const desc = (await this.index()).manifests.find((m) => m.annotations?.[REF_NAME] === tagOf(ref));
    if (!desc) return false;
    const m = parseManifest(await readFile(this.blobPath(desc.digest)), desc.mediaType, this.dir);
    return m.kind === 'image' && m.config.digest === imageId;
  }

  async begin(): Promise<PullTransaction> {
    await this.init();
    const dir = await mkdtemp(join(this.dir, '.tmp-'));
    const added: Array<[string, string]> = [];
    return {
      dir,
      // Blobs stay in the temp dir until commit, so a failed pull adds nothing.
      addLayer: async (layer, file) => void added.push([file, layer.digest]),
      commit: async (image) => {
        for (const [file, digest] of added) await rename(file, this.blobPath(digest));
        await this.addImage(image);
      },
      discard: () => rm(dir, { recursive: true, force: true }),
    };
  }

  private async putBlob(bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const tmp = `${this.blobPath(digest)}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, this.blobPath(digest));
    return digest;
  }

  private async addImage(image: PulledImage): Promise<void> {
    await this.putBlob(image.config);
    await this.putBlob(image.manifest);
    const tag = tagOf(image.ref);
    const index = await this.index();
    index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
    index.manifests.push({ mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifest.length, annotations: { [REF_NAME]: tag } });
    const tmp = join(this.dir, 'index.json.tmp');
    await writeFile(tmp, JSON.stringify(index));
    await rename(tmp, join(this.dir, 'index.json'));
  }

  private blob(desc: Descriptor): BlobSource {
    const path = this.blobPath(desc.digest);
    return { digest: desc.digest, size: desc.size, mediaType: desc.mediaType, open: (range) => createReadStream(path, range) };
  }

  async image(name: string): Promise<PushImage> {
    const index = await this.index();
    // `name` is the layout's ref.name (skopeo's oci:DIR:NAME) or a reference whose tag is.
    const named = (n: string) => index.manifests.find((m) => m.annotations?.[REF_NAME] === n);
    const desc = named(name) ?? named(tagOf(name));
    if (!desc) throw new UnknownImageError(`${name} (in OCI layout ${this.dir})`);
    const bytes = await readFile(this.blobPath(desc.digest));
    const m = parseManifest(bytes, desc.mediaType, `${this.dir}: manifest ${desc.digest}`);
    if (m.kind !== 'image') throw new UnknownImageError(`${name} (an index in ${this.dir}; push one platform's manifest)`);
    return { manifest: bytes, manifestMediaType: m.mediaType, config: this.blob(m.config), layers: m.layers.map((l) => this.blob(l)) };
  }
}
