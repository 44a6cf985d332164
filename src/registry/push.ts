/**
 * `push`: send an image's blobs the registry lacks (a few at a time; HEAD
 * first, so shared layers are skipped), then the manifest, last, so the
 * registry never names an image whose blobs it does not have. Plain layers
 * go up gzipped unless told otherwise, as docker's do.
 */
import { UsageError } from '../errors.js';
import { connect, type ConnectOptions } from './connect.js';
import { uploadBlob, type UploadOptions } from './blob-upload.js';
import { sha256 } from '../oci/digest.js';
import type { PushImage, PushSource } from './image-store.js';
import type { BlobSource } from './blob-upload.js';
import { isPlainLayerType, type Compression } from '../oci/media-type.js';
import { mapLimit, settled } from './map-limit.js';
import type { ProgressListener } from './events.js';
import { Reference } from '../oci/reference.js';

export interface PushOptions extends ConnectOptions {
  source: PushSource;
  concurrency?: number;
  /** Blobs above this size go up in PATCH chunks. */
  chunkSize?: UploadOptions['chunkSize'];
  /** Called as layers move (see events.ts). */
  onProgress?: ProgressListener;
  /** How plain layers go up (default gzip, as docker sends them); compressed ones go as they are. */
  compression?: Compression;
}

export interface PushResult {
  ref: string;
  /** Digest of the manifest as the registry stored it. */
  digest: string;
  size: number;
  layers: Array<{ digest: string; status: 'exists' | 'pushed' }>;
}

/**
 * The image with its plain layers compressed (where the source can) and a
 * manifest that names the compressed blobs; the same image when none are plain.
 */
async function withCompression(source: PushSource, img: PushImage, kind: Compression): Promise<PushImage> {
  if (kind === 'none' || !source.compressed || !img.layers.some((l) => isPlainLayerType(l.mediaType))) return img;
  const done = new Map<string, BlobSource>();
  const layers: BlobSource[] = [];
  for (const l of img.layers) {
    if (!isPlainLayerType(l.mediaType)) layers.push(l);
    else {
      if (!done.has(l.digest)) done.set(l.digest, await source.compressed(l, kind));
      layers.push(done.get(l.digest)!);
    }
  }
  const manifest = JSON.parse(img.manifest.toString('utf8')) as { layers: Array<Record<string, unknown>> };
  manifest.layers = manifest.layers.map((d, i) => ({ ...d, mediaType: layers[i]!.mediaType, digest: layers[i]!.digest, size: layers[i]!.size }));
  return { ...img, manifest: Buffer.from(JSON.stringify(manifest)), layers };
}

export async function push(image: string, reference: Reference | string, opts: PushOptions): Promise<PushResult> {
  const ref = typeof reference === 'string' ? Reference.parse(reference) : reference;
  const emit: ProgressListener = opts.onProgress ?? (() => {});
  const source = await opts.source.image(image);
  // Lines are keyed by the layer as stored (a plain layer's digest is its diff_id, as docker shows on push),
  // whatever blob goes up for it. docker lists the top layer first; a layer listed twice goes up once.
  emit({ type: 'push-start', repository: ref.name });
  for (const d of new Set([...source.layers].reverse().map((b) => b.digest))) emit({ type: 'layer', digest: d, state: 'preparing' });
  const img = await withCompression(opts.source, source, opts.compression ?? 'gzip');
  const shownAs = new Map(img.layers.map((l, i) => [l.digest, source.layers[i]!.digest]));
  const manifestDigest = sha256(img.manifest);
  if (ref.digest !== undefined && ref.digest !== manifestDigest) {
    throw new UsageError(`${ref}: the image's manifest is ${manifestDigest}, not the digest in the reference`);
  }
  const client = await connect(ref, ['pull', 'push'], opts);
  try {
    const blobs = [...new Map([...img.layers].reverse().map((b) => [b.digest, b])).values()];
    const statuses = settled(
      await mapLimit([...blobs, img.config], opts.concurrency ?? 3, async (blob) => {
        const shown = blob === img.config ? null : shownAs.get(blob.digest)!;
        const status = await uploadBlob(client, blob, {
          chunkSize: opts.chunkSize,
          onProgress: (done, total) => shown && emit({ type: 'bytes', digest: shown, direction: 'up', done, total }),
        });
        if (shown) emit({ type: 'layer', digest: shown, state: status === 'exists' ? 'mounted' : 'pushed' });
        return status;
      }),
    );
    const digest = await client.putManifest(ref.tag ?? manifestDigest, img.manifest, img.manifestMediaType);
    await opts.source.recordDigest?.(image, `${ref.name}@${digest}`);
    emit({ type: 'push-done', tag: ref.tag ?? ref.digest!, digest, size: img.manifest.length });
    return {
      ref: ref.toString(),
      digest,
      size: img.manifest.length,
      layers: img.layers.map((l) => ({ digest: l.digest, status: statuses[blobs.findIndex((b) => b.digest === l.digest)] === 'exists' ? 'exists' : 'pushed' })),
    };
  } finally {
    client.close();
  }
}
