/** The shapes the store reads and writes: OCI image config and manifest, and our own records. */
import type { Readable } from 'node:stream';

/** Opens a fresh stream over the same bytes, so a blob can be read more than once. */
export type Opener = () => Readable | Promise<Readable>;

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string };
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The OCI image config (only the fields layerfs reads are typed; the rest is kept). */
export interface ImageConfig {
  architecture: string;
  os: string;
  created?: string;
  author?: string;
  config?: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string>;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

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
  created?: string;
  loadedAt: string;
}
