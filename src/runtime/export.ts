/**
 * `export`: the container's whole tree (image layers, init layer and its
 * changes) as one tar. A running container's merged dir is packed as it is;
 * a stopped one is mounted read-only for the time of the export.
 */
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isLive, pathsOf, type ContainerState } from './containers.js';
import { isMounted, mounters } from './rootfs.js';
import { packTree } from './tree-tar.js';

export async function exportContainer(root: string, state: ContainerState, out: NodeJS.WritableStream): Promise<void> {
  const paths = pathsOf(root, state.id);
  if (isLive(state) && isMounted(paths.merged)) {
    await pipeline(packTree(paths.merged, { layer: false }), out);
    return;
  }
  const mnt = join(paths.dir, 'export');
  await mkdir(mnt, { recursive: true });
  const mount = await mounters[state.mounter].mount({ lowerdirs: [paths.upper, paths.init, ...state.layers], merged: mnt, log: paths.log });
  try {
    await pipeline(packTree(mnt, { layer: false }), out);
  } finally {
    await mount.unmount();
    await rmdir(mnt).catch(() => undefined);
  }
}
