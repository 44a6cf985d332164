/**
 * `docker save` archives: with a manifest.json (Docker 1.10+, and Docker 25+
 * whose Layers point into an OCI blobs/ dir), and the old format with only
 * `<id>/json`, `<id>/layer.tar` and `repositories` (seed 003), whose image
 * config is rebuilt from the top layer's v1 JSON.
 */
import { BadArchiveError, DigestMismatchError } from '../errors.js';
import { readJson } from './archive-files.js';
import { checkDigest, sha256 } from '../oci/digest.js';
import type { LoadContext } from './image-source.js';
import type { HistoryEntry, ImageConfig } from '../oci/config.js';
import type { ImageRecord, LayerRef } from './types.js';

interface ManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const BLOB_PATH = /^blobs\/sha256\/([0-9a-f]{64})$/;

/** A file named after its own digest (`blobs/sha256/<hex>`, `<hex>.json`) says what its digest must be. */
function digestFromName(name: string): string | undefined {
  const m = BLOB_PATH.exec(name) ?? /^([0-9a-f]{64})\.json$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

export async function readDockerManifest(ctx: LoadContext): Promise<ImageRecord[]> {
  const { files } = ctx;
  const { value: entries } = await readJson<ManifestEntry[]>(files, 'manifest.json');
  if (!Array.isArray(entries) || entries.some((e) => typeof e?.Config !== 'string' || !Array.isArray(e.Layers))) {
    throw new BadArchiveError(files.source, 'not a list of {Config, Layers, RepoTags}', 'manifest.json');
  }
  ctx.plan(entries.flatMap((e) => e.Layers));
  const out: ImageRecord[] = [];
  for (const e of entries) {
    const { value: config, bytes } = await readJson<ImageConfig>(files, e.Config);
    const named = digestFromName(e.Config);
    if (named !== undefined && named !== sha256(bytes)) {
      throw new DigestMismatchError(`${files.source}: ${e.Config}`, named, sha256(bytes));
    }
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== e.Layers.length) {
      throw new BadArchiveError(files.source, `config lists ${diffIds.length} diff_ids for ${e.Layers.length} layers`, e.Config);
    }
    const layers: LayerRef[] = [];
    for (const [i, name] of e.Layers.entries()) {
      const diffId = checkDigest(diffIds[i], `${files.source}: ${e.Config}: rootfs.diff_ids[${i}]`);
      layers.push(await ctx.layer(name, { digest: digestFromName(name), diffId }));
    }
    out.push(await ctx.staging.addImage(bytes, layers, e.RepoTags ?? [], `${files.source}: ${e.Config}`));
  }
  return out;
}

interface V1Json {
  id: string;
  parent?: string;
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  config?: ImageConfig['config'];
  container_config?: { Cmd?: string[] };
  comment?: string;
}

export async function readDockerV1(ctx: LoadContext): Promise<ImageRecord[]> {
  const { files } = ctx;
  const layersById = new Map<string, V1Json>();
  for (const name of files.names()) {
    const m = /^([0-9a-f]{64})\/json$/.exec(name);
    if (!m) continue;
    const { value } = await readJson<V1Json>(files, name);
    if (value.id !== m[1]) throw new BadArchiveError(files.source, `id ${JSON.stringify(value.id)} does not match its directory`, name);
    layersById.set(m[1]!, value);
  }
  const repos = files.has('repositories') ? (await readJson<Record<string, Record<string, string>>>(files, 'repositories')).value : {};
  const tagsByTop = new Map<string, string[]>();
  for (const [repo, tags] of Object.entries(repos)) {
    for (const [tag, id] of Object.entries(tags)) tagsByTop.set(id, [...(tagsByTop.get(id) ?? []), `${repo}:${tag}`]);
  }
  // Untagged archives: every layer nobody names as parent is an image top.
  const parents = new Set([...layersById.values()].map((l) => l.parent));
  const tops = tagsByTop.size ? [...tagsByTop.keys()] : [...layersById.keys()].filter((id) => !parents.has(id));

  const chains = tops.map((top) => {
    const chain: V1Json[] = [];
    for (let id: string | undefined = top; id; id = layersById.get(id)?.parent) {
      const l = layersById.get(id);
      if (!l) throw new BadArchiveError(files.source, `layer ${id} is missing`, `${id}/json`);
      if (chain.length > 1000) throw new BadArchiveError(files.source, 'parent chain loops', `${top}/json`);
      chain.unshift(l);
    }
    return chain;
  });
  ctx.plan(chains.flat().map((l) => `${l.id}/layer.tar`));

  const out: ImageRecord[] = [];
  for (const [i, chain] of chains.entries()) {
    const layers: LayerRef[] = [];
    for (const l of chain) layers.push(await ctx.layer(`${l.id}/layer.tar`, {}));
    const top = chain[chain.length - 1]!;
    const history: HistoryEntry[] = chain.map((l) => ({
      created: l.created,
      created_by: (l.container_config?.Cmd ?? []).join(' '),
      ...(l.comment ? { comment: l.comment } : {}),
    }));
    const config: ImageConfig = {
      architecture: top.architecture ?? 'amd64',
      os: top.os ?? 'linux',
      ...(top.created ? { created: top.created } : {}),
      ...(top.author ? { author: top.author } : {}),
      config: top.config ?? {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history,
    };
    const bytes = Buffer.from(JSON.stringify(config));
    out.push(await ctx.staging.addImage(bytes, layers, tagsByTop.get(tops[i]!) ?? [], `${files.source}: ${top.id}/json`));
  }
  return out;
}
