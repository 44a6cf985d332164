/**
 * `system check`, `system df` and `system prune` over the store and its
 * containers, as Docker's `system df` and `system prune` count and remove:
 * images (their layers, shared ones once), containers (their writable
 * layers) and, as layerfs has them apart, layers.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkStore, type CheckResult } from '../store/check.js';
import type { Store, RemoveResult } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { spaceOf } from '../store/disk-space.js';
import { containerDir, isLive, scanContainers, type ContainerState } from './containers.js';
import { forceUnmount } from './rootfs.js';
import { removeContainer } from './remove.js';

/** Bytes of the files under `dir`, without following links; a walk bounded in entries. */
export async function treeSize(dir: string, limit = 2_000_000): Promise<number> {
  let total = 0;
  let seen = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (++seen > limit) return;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else total += (await lstat(p).catch(() => null))?.size ?? 0;
    }
  };
  await walk(dir);
  return total;
}

/** Checks the store, then the containers: a damaged container record is repaired by removing what is left of the container. */
export async function checkSystem(store: Store, opts: { repair?: boolean } = {}): Promise<CheckResult> {
  const result = await checkStore(store, opts);
  const { containers, damaged } = await scanContainers(store.root);
  for (const d of damaged) {
    result.problems.push({ what: String(d.error.data.file), reason: String(d.error.data.reason), repair: 'unmount and remove the container' });
    if (opts.repair) {
      await forceUnmount(join(containerDir(store.root, d.id), 'merged'));
      await rm(containerDir(store.root, d.id), { recursive: true, force: true });
      await store.release(d.id);
    }
  }
  const ids = new Set(containers.map((c) => c.id));
  for (const h of await store.holds()) {
    if (ids.has(h.holder) && (await store.imageOrHeld(h.imageId).catch(() => null)) === null) {
      result.problems.push({ what: `hold ${h.holder.slice(0, 12)}`, reason: `the image ${h.imageId.slice(7, 19)} ${h.description} stands on can no longer be read; nothing is collected while it stays`, repair: 'none: remove the container' });
    }
    if (ids.has(h.holder) || damaged.some((d) => d.id === h.holder) || !/^[0-9a-f]{64}$/.test(h.holder)) continue;
    result.problems.push({ what: `hold ${h.holder.slice(0, 12)}`, reason: `${h.description} is gone`, repair: 'release it' });
    if (opts.repair) result.removed.push(...(await store.release(h.holder)));
  }
  return result;
}

export interface UsageRow {
  type: 'Images' | 'Containers' | 'Layers';
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

export async function diskUsage(store: Store): Promise<UsageRow[]> {
  const images = await store.images();
  const { containers } = await scanContainers(store.root);
  const usedImages = new Set(containers.map((c) => c.imageId));
  const heldImages = new Set((await store.holds()).map((h) => h.imageId));
  const layerSize = new Map<string, number>();
  const activeLayers = new Set<string>();
  for (const img of images) {
    for (const l of img.layers) {
      layerSize.set(l.diffId, l.unpackedSize);
      if (usedImages.has(img.id) || heldImages.has(img.id)) activeLayers.add(l.diffId);
    }
  }
  const { live } = await store.reachable();
  let layersTotal = 0;
  let layersActive = 0;
  let layersSize = 0;
  let layersFree = 0;
  for (const hex of await readdir(join(store.root, 'layers'))) {
    const l = await store.layer(`sha256:${hex}`).catch(() => null);
    const size = l?.unpackedSize ?? 0;
    layersTotal++;
    layersSize += size;
    if (live.has(hex)) layersActive++;
    else layersFree += size;
  }
  const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0);
  const imagesSize = sum(layerSize.values());
  const imagesFree = sum([...layerSize].filter(([d]) => !activeLayers.has(d)).map(([, s]) => s));
  let ctrSize = 0;
  let ctrFree = 0;
  for (const c of containers) {
    const size = await treeSize(join(containerDir(store.root, c.id), 'upper'));
    ctrSize += size;
    if (!isLive(c)) ctrFree += size;
  }
  return [
    { type: 'Images', total: images.length, active: images.filter((i) => usedImages.has(i.id)).length, size: imagesSize, reclaimable: imagesFree },
    { type: 'Containers', total: containers.length, active: containers.filter(isLive).length, size: ctrSize, reclaimable: ctrFree },
    { type: 'Layers', total: layersTotal, active: layersActive, size: layersSize, reclaimable: layersFree },
  ];
}

/** `system df -v`: each image with what it shares with others and its containers, each container with what it wrote. */
export interface VerboseUsage {
  images: Array<{ image: ImageRecord; size: number; shared: number; containers: number }>;
  containers: Array<{ container: ContainerState; size: number }>;
}

export async function diskUsageVerbose(store: Store): Promise<VerboseUsage> {
  const images = await store.images();
  const { containers } = await scanContainers(store.root);
  const users = new Map<string, number>();
  for (const img of images) for (const l of new Set(img.layers.map((x) => x.diffId))) users.set(l, (users.get(l) ?? 0) + 1);
  const sum = (ls: ImageRecord['layers']) => ls.reduce((n, l) => n + l.unpackedSize, 0);
  return {
    images: images.map((image) => ({
      image,
      size: sum(image.layers),
      shared: sum(image.layers.filter((l) => (users.get(l.diffId) ?? 0) > 1)),
      containers: containers.filter((c) => c.imageId === image.id).length,
    })),
    containers: await Promise.all(containers.map(async (container) => ({ container, size: await treeSize(join(containerDir(store.root, container.id), 'upper')) }))),
  };
}

export interface PruneResult {
  containers: string[];
  images: RemoveResult[];
  layers: string[];
  /** Bytes the store's filesystem gained. */
  reclaimed: number;
}

/**
 * Docker's `system prune`: stopped containers, then dangling images (with
 * `all`, every image no container uses), then whatever layers and blobs no
 * image or container needs.
 */
export async function prune(store: Store, opts: { all?: boolean } = {}): Promise<PruneResult> {
  const before = (await spaceOf(store.root)).free;
  const out: PruneResult = { containers: [], images: [], layers: [], reclaimed: 0 };
  const { containers } = await scanContainers(store.root);
  const stopped = containers.filter((c: ContainerState) => !isLive(c));
  for (const c of stopped) {
    await removeContainer(store.root, c);
    out.containers.push(c.id);
  }
  const used = new Set(containers.filter(isLive).map((c) => c.imageId));
  for (const h of await store.holds()) used.add(h.imageId);
  for (const img of await store.images()) {
    if (used.has(img.id)) continue;
    if (!opts.all && img.repoTags.length > 0) continue;
    out.images.push(await store.rmi(img.id, { force: true }));
  }
  out.layers = await store.gc();
  out.reclaimed = Math.max(0, (await spaceOf(store.root)).free - before);
  return out;
}
