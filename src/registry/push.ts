/**
 * `push`: send an image's blobs the registry lacks (a few at a time; HEAD
 * first, so shared layers are skipped), then the manifest, last, so the
 * registry never names an image whose blobs it does not have.
 */
import { UsageError } from '../errors.js';
import { connect, type ConnectOptions } from './connect.js';
import { uploadBlob, type UploadOptions } from './blob-upload.js';
import { sha256 } from '../oci/digest.js';
import type { PushSource } from './image-store.js';
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
}

export interface PushResult {
  ref: string;
  /** Digest of the manifest as the registry stored it. */
  digest: string;
  size: number;
  layers: Array<{ digest: string; status: 'exists' | 'pushed' }>;
}

export async function push(image: string, reference: Reference | string, opts: PushOptions): Promise<PushResult> {
  const ref = typeof reference === 'string' ? Reference.parse(reference) : reference;
  const emit: ProgressListener = opts.onProgress ?? (() => {});
  const img = await opts.source.image(image);
  const manifestDigest = sha256(img.manifest);
  if (ref.digest !== undefined && ref.digest !== manifestDigest) {
    throw new UsageError(`${ref}: the image's manifest is ${manifestDigest}, not the digest in the reference`);
  }
  const client = await connect(ref, ['pull', 'push'], opts);
  try {
    emit({ type: 'push-start', repository: ref.name });
    // docker lists the top layer first; a layer listed twice goes up once
    const blobs = [...new Map([...img.layers].reverse().map((b) => [b.digest, b])).values()];
    for (const b of blobs) emit({ type: 'layer', digest: b.digest, state: 'preparing' });
    const statuses = settled(
      await mapLimit([...blobs, img.config], opts.concurrency ?? 3, async (blob) => {
        const shown = blob !== img.config;
        const status = await uploadBlob(client, blob, {
          chunkSize: opts.chunkSize,
          onProgress: (done, total) => shown && emit({ type: 'bytes', digest: blob.digest, direction: 'up', done, total }),
        });
        if (shown) emit({ type: 'layer', digest: blob.digest, state: status === 'exists' ? 'mounted' : 'pushed' });
        return status;
      }),
    );
    const digest = await client.putManifest(ref.tag ?? manifestDigest, img.manifest, img.manifestMediaType);
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
