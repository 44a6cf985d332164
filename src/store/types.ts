/** The store's own records (the OCI shapes are in src/oci/). */
import type { Readable } from 'node:stream';

/** Opens a fresh stream over the same bytes, so a blob can be read more than once. */
export type Opener = () => Readable | Promise<Readable>;

/** One layer of an image: the blob as it was received and the unpacked content it holds. */
export interface LayerRef {
  /** Digest of the blob as stored (compressed or not). */
  digest: string;
  /** Digest of the uncompressed tar: the config's diff_id and the name of the unpacked dir. */
  diffId: string;
  mediaType: string;
  /** Blob size in bytes. */
  size: number;
  /** Bytes of file content once unpacked. */
  unpackedSize: number;
}

/** What the store keeps for each image; tags live in one shared table. */
export interface ImageRecord {
  /** sha256 of the config: the image ID. */
  id: string;
  manifestDigest: string;
  /** Base first, as in the manifest. */
  layers: LayerRef[];
  repoTags: string[];
  /** `name@sha256:…`: the manifest's digest in each registry the image was pulled from or pushed to. */
  repoDigests?: string[];
  created?: string;
  loadedAt: string;
  /** For a built image: the image it was built on ('' for scratch). */
  parent?: string;
}
