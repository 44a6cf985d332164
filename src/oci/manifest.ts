/**
 * Image manifests: OCI and Docker v2 schema 2 manifests, and the indexes
 * (manifest lists) that point to one manifest per platform. Parsed into a
 * discriminated union, shape-checked, so nothing downstream trusts a field
 * it has not seen.
 */
import { BadManifestError, LayerfsError, UsageError } from '../errors.js';
import { checkDigest } from './digest.js';
import { isIndexType, MediaType } from './media-type.js';

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

/** An image manifest as written (JSON). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An image index as written (JSON). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A manifest as read: checked, and told apart by `kind`. */
export type Manifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] };

export function parseDescriptor(v: unknown, what: string): Descriptor {
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

/** `contentType` is the HTTP Content-Type (or a descriptor's mediaType); the body's own mediaType wins when present. */
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
  if (Array.isArray(json.manifests) || isIndexType(mediaType)) {
    if (!Array.isArray(json.manifests)) throw new BadManifestError(what, 'index without manifests');
    return { kind: 'index', mediaType: mediaType || MediaType.ociIndex, manifests: json.manifests.map((m) => parseDescriptor(m, what)) };
  }
  if (!Array.isArray(json.layers)) throw new BadManifestError(what, 'manifest without layers');
  return {
    kind: 'image',
    mediaType: mediaType || MediaType.ociManifest,
    config: parseDescriptor(json.config, what),
    layers: json.layers.map((l) => parseDescriptor(l, what)),
  };
}

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos']);
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386' };

/**
 * `linux/amd64`, `linux/arm64/v8`, normalized as docker's (containerd's
 * platforms.Parse): any case, `x86_64` and `aarch64` for amd64 and arm64, and
 * one word alone is an OS on this machine's architecture or an architecture
 * on this machine's OS (`linux`, `amd64`).
 */
export function parsePlatform(s: string): Platform {
  const parts = s.toLowerCase().split('/');
  if (parts.length === 1 && parts[0]) parts.splice(KNOWN_OS.has(parts[0]) ? 1 : 0, 0, KNOWN_OS.has(parts[0]) ? hostPlatform().architecture : hostPlatform().os);
  const [os, arch, variant, ...extra] = parts;
  if (!os || !arch || extra.length > 0) throw new UsageError(`invalid platform '${s}': expected OS/ARCH[/VARIANT]`);
  return { os, architecture: ARCH_ALIASES[arch] ?? arch, ...(variant ? { variant } : {}) };
}

export const formatPlatform = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/**
 * `--platform` of run and build: only this machine's own can run here (no
 * emulation); another is refused with a clear error rather than ignored.
 */
export function requireHostPlatform(s: string): Platform {
  const want = parsePlatform(s);
  const host = hostPlatform();
  if (want.os !== host.os || want.architecture !== host.architecture) {
    throw new UsageError(`platform ${s} cannot run on this ${formatPlatform(host)} machine (there is no emulation)`);
  }
  return want;
}

/** This machine's platform, as OCI names it. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch };
}

/** The index entry for `want`; a missing variant in `want` matches any. */
export function selectPlatform(index: Descriptor[], want: Platform, what: string): Descriptor {
  const found = index.find(
    (d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture && (want.variant === undefined || d.platform.variant === want.variant),
  );
  if (found) return found;
  const have = index.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : [])).join(', ');
  throw new LayerfsError('NO_PLATFORM', `${what}: no manifest for ${formatPlatform(want)} (available: ${have || 'none'})`, { what });
}
