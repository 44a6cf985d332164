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
  /** Config changes (`--change`), applied to the image's container config. */
  changeConfig?: (config: NonNullable<ImageConfig['config']>) => NonNullable<ImageConfig['config']>;
}

export interface CommitUpperOptions {
  tags?: string[];
  /** The image this one was built on (recorded for the build cache), '' for scratch. */
  parent?: string;
  /** Names the tar in the store's tmp dir. */
  name: string;
}

/** Writes the container's changes as an OCI layer tar to `file`. */
export async function writeChangesTar(upper: string, file: string): Promise<void> {
  await pipeline(packTree(upper, { layer: true }), createWriteStream(file));
}

/** Stores a new image: `base`'s layers plus `upper` as one more layer, described by `config`. */
export async function commitUpper(store: Store, upper: string, base: ImageRecord | null, config: ImageConfig, opts: CommitUpperOptions): Promise<ImageRecord> {
  const tarFile = join(store.root, 'tmp', `commit-${opts.name}-${process.pid}.tar`);
  try {
    await writeChangesTar(upper, tarFile);
    return await store.addImage({ config, layers: [...(base?.layers ?? []), () => createReadStream(tarFile)], tags: opts.tags ?? [], parent: opts.parent });
  } finally {
    await rm(tarFile, { force: true });
  }
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
    ...(opts.changeConfig ? { config: opts.changeConfig(baseConfig.config ?? {}) } : {}),
    created,
    ...(opts.author ? { author: opts.author } : {}),
    history: [
      ...(baseConfig.history ?? []),
      { created, created_by: state.args.join(' '), comment: opts.message ?? `layerfs commit of container ${shortId(state.id)}`, ...(opts.author ? { author: opts.author } : {}) },
    ],
  };
  return commitUpper(store, pathsOf(store.root, state.id).upper, base, config, { tags: ref ? [ref] : [], name: state.id });
}
