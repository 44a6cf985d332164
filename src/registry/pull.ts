/**
 * `pull`: resolve a reference to one platform's manifest, download the
 * layers the target lacks (a few at a time, each verified), then hand them
 * to the target base layer first, then the image.
 * The pull is one transaction of the target: every blob is downloaded and
 * verified, then added, and only the commit makes the image visible, so a
 * corrupt or unreachable layer leaves the target as it was.
 */
import { join } from 'node:path';
import type { RegistryClient } from './client.js';
import { connect, type ConnectOptions } from './connect.js';
import { downloadBlob } from './blob-download.js';
import type { PulledLayer, PullTarget } from './image-store.js';
import { BadManifestError } from '../errors.js';
import { diffIds } from '../oci/config.js';
import { parseManifest, selectPlatform, type Descriptor, type Platform } from '../oci/manifest.js';
import { mapLimit, settled } from './map-limit.js';
import type { ProgressListener } from './events.js';
import { Reference } from '../oci/reference.js';
import { NotFoundError, RegistryError } from './registry-error.js';

export interface PullOptions extends ConnectOptions {
  target: PullTarget;
  /** For an index: the manifest to pick. linux/amd64 by default. */
  platform?: Platform;
  /** Layers downloading at once. */
  concurrency?: number;
  /** Called as layers move (see events.ts). */
  onProgress?: ProgressListener;
  /** Bytes downloaded for a layer so far (tests use it to break a download midway). */
  onBytes?: (digest: string, done: number, total: number) => void;
}

export interface PulledLayerResult {
  digest: string;
  diffId: string;
  status: 'exists' | 'pulled';
  /** Offsets at which an interrupted download resumed with a Range request. */
  resumedAt: number[];
}

export interface PullResult {
  /** Familiar form with tag or digest: `localhost:5000/hello:latest`. */
  ref: string;
  /** Digest of what the reference names (an index for multi-platform images). */
  digest: string;
  manifestDigest: string;
  imageId: string;
  upToDate: boolean;
  layers: PulledLayerResult[];
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

interface Resolved {
  digest: string;
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

async function resolve(client: RegistryClient, ref: Reference, platform: Platform): Promise<Resolved> {
  const top = await client.getManifest(ref.identifier).catch((err: unknown) => {
    if (err instanceof RegistryError && err.status === 404) throw new NotFoundError(`${ref}`, ref.registry, err.errors.map((e) => e.message).join('; ') || 'HTTP 404');
    throw err;
  });
  let fetched = top;
  let m = parseManifest(top.bytes, top.mediaType, `manifest ${ref}`);
  if (m.kind === 'index') {
    const pick = selectPlatform(m.manifests, platform, `${ref}`);
    fetched = await client.getManifest(pick.digest);
    m = parseManifest(fetched.bytes, fetched.mediaType, `manifest ${ref.name}@${pick.digest}`);
    if (m.kind === 'index') throw new BadManifestError(`${ref}`, 'an index entry points to another index');
  }
  return { digest: top.digest, manifest: fetched.bytes, manifestDigest: fetched.digest, mediaType: m.mediaType, config: m.config, layers: m.layers };
}

export async function pull(reference: Reference | string, opts: PullOptions): Promise<PullResult> {
  const ref = typeof reference === 'string' ? Reference.parse(reference) : reference;
  const { target } = opts;
  const emit: ProgressListener = opts.onProgress ?? (() => {});
  const client = await connect(ref, ['pull'], opts);
  try {
    const img = await resolve(client, ref, opts.platform ?? DEFAULT_PLATFORM);
    const config = await client.getBlob(img.config.digest);
    const ids = diffIds(config, `config ${img.config.digest}`);
    if (ids.length !== img.layers.length) {
      throw new BadManifestError(`${ref}`, `manifest lists ${img.layers.length} layers but the config has ${ids.length} diff_ids`);
    }
    const layers = img.layers.map((d, i) => ({ ...d, diffId: ids[i]! }));
    const present = await Promise.all(layers.map((l) => target.hasLayer(l)));
    const upToDate = present.every(Boolean) && (await target.hasImage(ref.toString(), img.config.digest));
    const results: PulledLayerResult[] = layers.map((l, i) => ({ digest: l.digest, diffId: l.diffId, status: present[i] ? 'exists' : 'pulled', resumedAt: [] }));

    for (const [i, l] of layers.entries()) {
      emit({ type: 'layer', digest: l.digest, state: present[i] ? 'exists' : 'waiting' });
    }
    if (!upToDate) {
      const missing = [...new Map(layers.filter((_, i) => !present[i]).map((l) => [l.digest, l])).values()];
      const tx = await target.begin();
      try {
        const files = settled(
          await mapLimit(missing, opts.concurrency ?? 3, async (l) => {
            const file = join(tx.dir, l.digest.slice(7));
            const { resumedAt } = await downloadBlob(client, l, file, {
              onProgress: (done, total) => {
                emit({ type: 'bytes', digest: l.digest, direction: 'down', done, total });
                opts.onBytes?.(l.digest, done, total);
              },
              onResume: (offset) => emit({ type: 'layer', digest: l.digest, state: 'retrying', offset }),
            });
            for (const r of results) if (r.digest === l.digest) r.resumedAt = resumedAt;
            emit({ type: 'layer', digest: l.digest, state: 'downloaded' });
            return file;
          }),
        );
        const pulled: PulledLayer[] = layers.map(({ digest, diffId, mediaType, size }) => ({ digest, diffId, mediaType, size }));
        for (const [i, l] of missing.entries()) {
          emit({ type: 'layer', digest: l.digest, state: 'extracting' });
          await tx.addLayer(pulled.find((p) => p.digest === l.digest)!, files[i]!);
        }
        await tx.commit({
          ref: ref.toString(),
          manifest: img.manifest,
          manifestDigest: img.manifestDigest,
          manifestMediaType: img.mediaType,
          config,
          configDigest: img.config.digest,
          layers: pulled,
        });
        // Only now is the layer in the store: "Pull complete" means it.
        for (const l of missing) emit({ type: 'layer', digest: l.digest, state: 'pulled' });
      } finally {
        await tx.discard();
      }
    }
    await target.recordDigest?.(img.config.digest, `${ref.name}@${img.digest}`);
    emit({ type: 'pull-done', ref: ref.toString(), digest: img.digest, upToDate });
    return { ref: ref.toString(), digest: img.digest, manifestDigest: img.manifestDigest, imageId: img.config.digest, upToDate, layers: results };
  } finally {
    client.close();
  }
}
