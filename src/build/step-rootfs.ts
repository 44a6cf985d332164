/**
 * A build step's root filesystem outside a container: an image's layers
 * mounted under a fresh upper dir (COPY and ADD write into it, and the upper
 * becomes the step's layer, as a RUN container's does), or mounted read-only
 * (the source of `COPY --from`). It lives in the store's tmp dir under our
 * pid, so what a killed build leaves is swept like an abandoned import.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/store.js';
import { mounters, type MounterName, type RootfsMount } from '../runtime/rootfs.js';

export interface StepRootfs {
  merged: string;
  /** The new layer's content (writable mounts only). */
  upper: string;
  /** Takes the mount down (idempotent). */
  unmount(): Promise<void>;
  /** Unmounts and removes the dirs. */
  dispose(): Promise<void>;
}

/** Mounts `layerDirs` (top first); `writable` adds a fresh upper dir. */
export async function openStepRootfs(store: Store, layerDirs: string[], mounter: MounterName, writable: boolean): Promise<StepRootfs> {
  const dir = await mkdtemp(join(store.root, 'tmp', `${process.pid}-build-`));
  const [upper, work, merged, empty] = ['upper', 'work', 'merged', 'empty'].map((d) => join(dir, d)) as [string, string, string, string];
  let mount: RootfsMount | undefined;
  const unmount = async () => {
    const m = mount;
    mount = undefined;
    await m?.unmount();
  };
  const dispose = async () => {
    try {
      await unmount();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    for (const d of [upper, work, merged, empty]) await mkdir(d);
    // An overlay needs a lower layer; FROM scratch has none, so an empty one stands in.
    const lowerdirs = layerDirs.length > 0 ? layerDirs : [empty];
    mount = await mounters[mounter].mount({
      lowerdirs: writable || lowerdirs.length > 1 || mounter === 'layerfs' ? lowerdirs : [...lowerdirs, empty],
      ...(writable ? { upperdir: upper, workdir: work } : {}),
      merged,
      log: join(dir, 'mount.log'),
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  return { merged, upper, unmount, dispose };
}
