/** The OCI image config: what an image runs, and the diff_ids of its layers. */
import { BadManifestError } from '../errors.js';
import { checkDigest } from './digest.js';

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** Only the fields layerfs reads are typed; the rest is kept. */
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
    /** SHELL in a Dockerfile (docker keeps it in the config too). */
    Shell?: string[];
    /** ONBUILD triggers, run when a build starts FROM this image. */
    OnBuild?: string[];
    /** HEALTHCHECK in a Dockerfile (docker's field; durations in nanoseconds). */
    Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

/** Parses a config blob; its `rootfs.diff_ids` must be a list of digests (one per layer, base first). */
export function parseConfig(bytes: Buffer, what: string): ImageConfig {
  let json: ImageConfig;
  try {
    json = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new BadManifestError(what, `config is not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object') throw new BadManifestError(what, 'config is not a JSON object');
  const ids: unknown = json.rootfs?.diff_ids;
  if (!Array.isArray(ids)) throw new BadManifestError(what, 'config has no rootfs.diff_ids');
  ids.forEach((d, i) => checkDigest(d, `${what}: rootfs.diff_ids[${i}]`));
  return json;
}

/** The config's diff_ids: one per layer, in layer order. */
export const diffIds = (config: Buffer, what: string): string[] => parseConfig(config, what).rootfs.diff_ids;
