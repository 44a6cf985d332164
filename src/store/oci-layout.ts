/**
 * OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as a
 * directory or a tar, including the one inside a Docker 25+ save. Every
 * manifest, config and layer blob is checked against the digest that names it.
 */
import { BadArchiveError } from '../errors.js';
import { readJson, readSmall } from './archive-files.js';
import { checkDigest, hexOf, sha256, verifyDigest } from './digest.js';
import type { LoadContext } from './image-source.js';
import { isRef } from './ref.js';
import { MEDIA, type Descriptor, type ImageConfig, type ImageRecord, type LayerRef, type Manifest } from './types.js';

const blobName = (digest: string) => `blobs/sha256/${hexOf(digest)}`;

async function readBlob<T>(ctx: LoadContext, d: Descriptor, what: string): Promise<{ value: T; bytes: Buffer }> {
  const digest = checkDigest(ctx.files.source, d.digest, what);
  const bytes = await readSmall(ctx.files, blobName(digest));
  verifyDigest(`${ctx.files.source}: ${blobName(digest)} (${what})`, digest, sha256(bytes));
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as T, bytes };
  } catch (err) {
    throw new BadArchiveError(ctx.files.source, `not valid JSON: ${(err as Error).message}`, blobName(digest));
  }
}

const isIndex = (mt: string | undefined) => mt === MEDIA.index || mt === MEDIA.dockerList;

/** From a nested index, the manifest for this machine (linux/amd64), else the first. */
function pick(ds: Descriptor[]): Descriptor[] {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const mine = ds.filter((d) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === arch));
  return mine.length ? mine.slice(0, 1) : ds.slice(0, 1);
}

/** The name an index entry gives its image: a full reference, or just a tag (then no name is known). */
function tagsOf(d: Descriptor): string[] {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name'];
  return full !== undefined && full.includes(':') && isRef(full) ? [full] : [];
}

export async function readOciLayout(ctx: LoadContext): Promise<ImageRecord[]> {
  const { files } = ctx;
  const { value: index } = await readJson<{ manifests?: Descriptor[] }>(files, 'index.json');
  if (!Array.isArray(index.manifests)) throw new BadArchiveError(files.source, 'no manifests list', 'index.json');

  const found: Array<{ manifest: Manifest; tags: string[] }> = [];
  const walk = async (ds: Descriptor[], tags: string[] | null, depth: number): Promise<void> => {
    for (const d of ds) {
      if (depth > 4) throw new BadArchiveError(files.source, 'indexes nested too deep', blobName(d.digest));
      if (isIndex(d.mediaType)) {
        const { value } = await readBlob<{ manifests?: Descriptor[] }>(ctx, d, 'index');
        await walk(pick(value.manifests ?? []), tags ?? tagsOf(d), depth + 1);
      } else {
        const { value } = await readBlob<Manifest>(ctx, d, 'manifest');
        if (isIndex(value.mediaType) || !value.config) {
          const nested = value as unknown as { manifests?: Descriptor[] };
          await walk(pick(nested.manifests ?? []), tags ?? tagsOf(d), depth + 1);
        } else found.push({ manifest: value, tags: tags ?? tagsOf(d) });
      }
    }
  };
  await walk(index.manifests, null, 0);
  ctx.plan(found.flatMap(({ manifest }) => (manifest.layers ?? []).map((l) => blobName(checkDigest(files.source, l.digest, 'layer')))));

  const out: ImageRecord[] = [];
  for (const { manifest, tags } of found) {
    const { value: config, bytes } = await readBlob<ImageConfig>(ctx, manifest.config, 'config');
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (!Array.isArray(manifest.layers) || diffIds.length !== manifest.layers.length) {
      throw new BadArchiveError(files.source, `config lists ${diffIds.length} diff_ids for ${manifest.layers?.length ?? 0} layers`, blobName(manifest.config.digest));
    }
    const layers: LayerRef[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      const digest = checkDigest(files.source, l.digest, `layer ${i + 1}`);
      const diffId = checkDigest(files.source, diffIds[i], `rootfs.diff_ids[${i}]`);
      layers.push(await ctx.layer(blobName(digest), { digest, diffId }));
    }
    out.push(await ctx.staging.addImage(bytes, layers, tags, `${files.source}: ${blobName(manifest.config.digest)}`));
  }
  return out;
}
