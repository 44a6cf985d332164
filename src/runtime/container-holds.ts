/**
 * Containers made before the store had holds hold nothing: this takes the
 * hold each of them should have (on its image, named after its ID). The CLI
 * runs it before `rmi`, so an upgrade never lets rmi take a container's layers.
 */
import { UnknownImageError } from '../errors.js';
import type { Store } from '../store/store.js';
import { listContainers } from './containers.js';

export async function holdContainerImages(store: Store): Promise<void> {
  const held = new Set((await store.holds()).map((h) => h.holder));
  for (const c of await listContainers(store.root)) {
    if (held.has(c.id)) continue;
    try {
      await store.hold(c.id, c.imageId, `container ${c.name}`);
    } catch (err) {
      if (!(err instanceof UnknownImageError)) throw err; // its image is gone already: nothing to keep
    }
  }
}
