/**
 * Loads the images of an OCI image layout (a directory or a tar, including
 * the one inside a Docker 25+ save) into a store import. The layout itself
 * is read by src/oci/layout.ts; this adds each layer through the import.
 */
import { BadArchiveError } from '../errors.js';
import { parseConfig } from '../oci/config.js';
import { checkDigest } from '../oci/digest.js';
import { blobName, readBlob, readLayout, refsOf } from '../oci/layout.js';
import { readSmall } from './archive-files.js';
import type { LoadContext } from './image-source.js';
import type { ImageRecord, LayerRef } from './types.js';

export async function readOciLayout(ctx: LoadContext): Promise<ImageRecord[]> {
  const { files } = ctx;
  const read = (name: string) => readSmall(files, name);
  const found = await readLayout(read, files.source);
  ctx.plan(found.flatMap(({ manifest }) => manifest.layers.map((l) => blobName(l.digest))));

  const out: ImageRecord[] = [];
  for (const { manifest, entry } of found) {
    const what = `${files.source}: ${blobName(manifest.config.digest)}`;
    const bytes = await readBlob(read, manifest.config.digest, files.source, 'config');
    const diffIds = parseConfig(bytes, what).rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new BadArchiveError(files.source, `config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, blobName(manifest.config.digest));
    }
    const layers: LayerRef[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      const diffId = checkDigest(diffIds[i], `${what}: rootfs.diff_ids[${i}]`);
      layers.push(await ctx.layer(blobName(l.digest), { digest: l.digest, diffId }));
    }
    out.push(await ctx.staging.addImage(bytes, layers, refsOf(entry, { kind: files.kind, path: files.source }), what));
  }
  return out;
}
