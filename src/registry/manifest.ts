/**
 * Image manifests as registries serve them: OCI and Docker v2 schema 2
 * manifests, and the indexes (manifest lists) that point to one manifest per
 * platform. Parsed into a discriminated union, shape-checked, so nothing
 * downstream trusts a field it has not seen.
 */
import { LayerfsError } from '../errors.js';
import { checkDigest } from './digest.js';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.dockerList, MediaType.ociManifest, MediaType.dockerManifest];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export type Manifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] };

export class BadManifestError extends LayerfsError {
  constructor(what: string, reason: string) {
    super('BAD_MANIFEST', `${what}: ${reason}`, { what, reason });
  }
}

function descriptor(v: unknown, what: string): Descriptor {
  const d = (v ?? {}) as Record<string, unknown>;
  if (typeof d.digest !== 'string') throw new BadManifestError(what, 'descriptor without a digest');
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new BadManifestError(what, `descriptor ${d.digest} without a valid size`);
  const out: Descriptor = {
    mediaType: typeof d.mediaType === 'string' ? d.mediaType : '',
    digest: checkDigest(d.digest, what),
    size: d.size,
  };
  const p = d.platform as Record<string, unknown> | undefined;
  if (p && typeof p.os === 'string' && typeof p.architecture === 'string') {
    out.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) };
  }
  if (d.annotations && typeof d.annotations === 'object') out.annotations = d.annotations as Record<string, string>;
  return out;
}

/** `contentType` is the HTTP Content-Type; the body's own mediaType wins when present. */
export function parseManifest(bytes: Buffer, contentType: string, what: string): Manifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new BadManifestError(what, `not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object') throw new BadManifestError(what, 'not a JSON object');
  if (json.schemaVersion === 1) throw new BadManifestError(what, 'Docker schema 1 manifests are not supported; push the image again with a current tool');
  if (json.schemaVersion !== 2) throw new BadManifestError(what, `unknown schemaVersion ${String(json.schemaVersion)}`);
  const mediaType = typeof json.mediaType === 'string' ? json.mediaType : contentType;
  if (Array.isArray(json.manifests) || mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList) {
    if (!Array.isArray(json.manifests)) throw new BadManifestError(what, 'index without manifests');
    return { kind: 'index', mediaType: mediaType || MediaType.ociIndex, manifests: json.manifests.map((m) => descriptor(m, what)) };
  }
  if (!Array.isArray(json.layers)) throw new BadManifestError(what, 'manifest without layers');
  return {
    kind: 'image',
    mediaType: mediaType || MediaType.ociManifest,
    config: descriptor(json.config, what),
    layers: json.layers.map((l) => descriptor(l, what)),
  };
}

/** `linux/amd64`, `linux/arm64/v8`. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, ...extra] = s.split('/');
  if (!os || !architecture || extra.length > 0) throw new LayerfsError('USAGE', `invalid platform '${s}': expected OS/ARCH[/VARIANT]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export const formatPlatform = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The index entry for `want`; a missing variant in `want` matches any. */
export function selectPlatform(index: Descriptor[], want: Platform, what: string): Descriptor {
  const found = index.find(
    (d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture && (want.variant === undefined || d.platform.variant === want.variant),
  );
  if (found) return found;
  const have = index.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : [])).join(', ');
  throw new LayerfsError('NO_PLATFORM', `${what}: no manifest for ${formatPlatform(want)} (available: ${have || 'none'})`, { what });
}

/** The config fields pull needs: one diff_id per layer, in layer order. */
export function diffIds(config: Buffer, what: string): string[] {
  let json: { rootfs?: { diff_ids?: unknown } };
  try {
    json = JSON.parse(config.toString('utf8')) as typeof json;
  } catch (err) {
    throw new BadManifestError(what, `config is not valid JSON: ${(err as Error).message}`);
  }
  const ids = json.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d): d is string => typeof d === 'string')) throw new BadManifestError(what, 'config has no rootfs.diff_ids');
  return ids.map((d) => checkDigest(d, `${what} diff_id`));
}
