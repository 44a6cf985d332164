/**
 * The build cache, as Docker's classic builder keeps it: every step's image
 * stays in the store (untagged) with its parent recorded, and a step is done
 * before when a child of the same parent has the same last history entry.
 * That entry holds the instruction after substitution, the build args a RUN
 * saw, and for COPY/ADD the digest of the sources. Like Docker's history,
 * ENV and LABEL entries do not quote (`ENV A=b c=d` may be one variable or
 * two), so for those steps the resulting config must match as well, which
 * is what Docker's cache compares.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ImageConfig } from '../oci/config.js';
import type { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';

/** The newest image built on `parent` ('' for scratch) by the step `createdBy`, or null. */
export async function findCached(store: Store, parent: string, createdBy: string, config?: ImageConfig['config']): Promise<ImageRecord | null> {
  const want = config === undefined ? undefined : JSON.parse(JSON.stringify(config)) as unknown;
  for (const img of await store.images()) {
    if (img.parent !== parent) continue;
    const found = await store.config(img).catch(() => null);
    if (found?.history?.at(-1)?.created_by !== createdBy) continue;
    if (want === undefined || isDeepStrictEqual(found.config ?? {}, want)) return img;
  }
  return null;
}
