/**
 * What pull and push need from a local image store, and nothing more, so
 * the registry code runs against the layer store (store-adapter.ts) and an
 * OCI image layout directory (oci-layout.ts) alike.
 */
import type { BlobSource } from './blob-upload.js';

export interface PulledLayer {
  /** Digest of the blob as downloaded (compressed or not). */
  digest: string;
  /** The config's diff_id for this layer: digest of the uncompressed tar. */
  diffId: string;
  mediaType: string;
  size: number;
  /** The verified blob, in `tempDir()`; the target moves or copies it. */
  file: string;
}

export interface PulledImage {
  /** Where the image came from, familiar form with tag: `localhost:5000/hello:latest`. */
  ref: string;
  /** The platform manifest (not the index). */
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Buffer;
  configDigest: string;
  layers: Array<Omit<PulledLayer, 'file'>>;
}

export interface PullTarget {
  /** A directory for downloads, on the target's filesystem so blobs can be renamed in. */
  tempDir(): Promise<string>;
  hasLayer(layer: { digest: string; diffId: string }): Promise<boolean>;
  /** The image ID (config digest) `ref` names now, if any. */
  imageId(ref: string): Promise<string | undefined>;
  /** Stores one verified layer blob, unpacking it if the target unpacks; base layers come first. */
  addLayer(layer: PulledLayer): Promise<void>;
  /** Records the image and points `ref` at it, once all its layers are stored. */
  addImage(image: PulledImage): Promise<void>;
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
}
