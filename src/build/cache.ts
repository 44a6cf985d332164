/**
 * The build cache, as Docker's classic builder keeps it: every step's image
 * stays in the store (untagged) with its parent recorded, and a step is done
 * before when a child of the same parent has the same last history entry.
 * That entry holds the instruction after substitution, the build args a RUN
 * saw, and for COPY/ADD the digest of the sources, so it is the whole key.
 */
import type { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';

/** The newest image built on `parent` ('' for scratch) by the step `createdBy`, or null. */
export async function findCached(store: Store, parent: string, createdBy: string): Promise<ImageRecord | null> {
  for (const img of await store.images()) {
    if (img.parent !== parent) continue;
    const config = await store.config(img).catch(() => null);
    if (config?.history?.at(-1)?.created_by === createdBy) return img;
  }
  return null;
}
