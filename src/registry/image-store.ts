/**
 * What pull and push need from a local image store, and nothing more, so
 * the registry code runs against the layer store (store-adapter.ts) and an
 * OCI image layout directory (layout-target.ts) alike.
 *
 * A pull is one transaction: blobs are downloaded into its directory, added
 * base layer first, and nothing is visible in the store until `commit`; a
 * pull that fails calls `discard` and the store is as it was.
 */
import type { BlobSource } from './blob-upload.js';

export interface PulledLayer {
  /** Digest of the blob as downloaded (compressed or not). */
  digest: string;
  /** The config's diff_id for this layer: digest of the uncompressed tar. */
  diffId: string;
  mediaType: string;
  size: number;
}

export interface PulledImage {
  /** Where the image came from, familiar form: `localhost:5000/hello:latest` or `NAME@sha256:...`. */
  ref: string;
  /** The platform manifest (not the index). */
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Buffer;
  configDigest: string;
  /** Base first, every layer of the image (new and already stored). */
  layers: PulledLayer[];
}

export interface PullTransaction {
  /** A directory for downloads, on the target's filesystem so blobs can be renamed in. */
  readonly dir: string;
  /** Adds one verified layer blob (at `file`, inside `dir`), unpacking it if the target unpacks. */
  addLayer(layer: PulledLayer, file: string): Promise<void>;
  /** Records the image, points `image.ref` at it and makes everything visible. */
  commit(image: PulledImage): Promise<void>;
  /** Forgets everything staged; safe after commit. */
  discard(): Promise<void>;
}

export interface PullTarget {
  /** Records that image `imageId` came from `repoDigest` (`name@sha256:…`), pulled or up to date. */
  recordDigest?(imageId: string, repoDigest: string): Promise<void>;
  hasLayer(layer: { digest: string; diffId: string }): Promise<boolean>;
  /** Whether `ref` already names the image `imageId` (its config digest). */
  hasImage(ref: string, imageId: string): Promise<boolean>;
  begin(): Promise<PullTransaction>;
}

export interface PushImage {
  manifest: Buffer;
  manifestMediaType: string;
  config: BlobSource;
  layers: BlobSource[];
}

export interface PushSource {
  /** The image `name` names in this store; throws UnknownImageError when there is none. */
  image(name: string): Promise<PushImage>;
  /**
   * The plain (uncompressed) layer `layer` compressed as `kind`, made once and
   * kept, so every push of it sends the same blob. A source without it pushes
   * its layers as they are.
   */
  compressed?(layer: BlobSource, kind: 'gzip' | 'zstd'): Promise<BlobSource>;
  /** Records that the registry holds `image` as `repoDigest` (`name@sha256:…`). */
  recordDigest?(image: string, repoDigest: string): Promise<void>;
}
