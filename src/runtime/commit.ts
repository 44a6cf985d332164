/**
 * `commit`: a container's upper dir becomes one OCI layer on top of its
 * image's layers, in a new image whose history names the command. The layer
 * tar is written to the store's tmp dir first, so the store can read it twice
 * (digest, then unpack) and a failure leaves the store as it was.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LayerfsError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { ImageConfig } from '../oci/config.js';
import type { ImageRecord } from '../store/types.js';
import { pathsOf, type ContainerState } from './containers.js';
import { shortId } from '../oci/digest.js';
import { packTree } from './tree-tar.js';

export interface CommitOptions {
  /** A comment for the history entry. */
  message?: string;
  author?: string;
}

/** Writes the container's changes as an OCI layer tar to `file`. */
export async function writeChangesTar(upper: string, file: string): Promise<void> {
  await pipeline(packTree(upper, { layer: true }), createWriteStream(file));
}

export async function commitContainer(store: Store, state: ContainerState, ref: string | undefined, opts: CommitOptions = {}): Promise<ImageRecord> {
  // After `rmi -f` of its image the container's hold still keeps the config and layers.
  const base = await store.imageOrHeld(state.imageId);
  if (base === null) {
    throw new LayerfsError('NO_BASE_IMAGE', `container ${shortId(state.id)}: its image ${state.image} (${state.imageId}) is no longer in the store`);
  }
  const baseConfig = await store.config(base);
  const created = new Date().toISOString();
  const config: ImageConfig = {
    ...baseConfig,
    created,
    ...(opts.author ? { author: opts.author } : {}),
    history: [
      ...(baseConfig.history ?? []),
      { created, created_by: state.args.join(' '), comment: opts.message ?? `layerfs commit of container ${shortId(state.id)}`, ...(opts.author ? { author: opts.author } : {}) },
    ],
  };
  const tarFile = join(store.root, 'tmp', `commit-${state.id}-${process.pid}.tar`);
  try {
    await writeChangesTar(pathsOf(store.root, state.id).upper, tarFile);
    return await store.addImage({ config, layers: [...base.layers, () => createReadStream(tarFile)], tags: ref ? [ref] : [] });
  } finally {
    await rm(tarFile, { force: true });
  }
}
