/**
 * `load` and `import`: an archive in, images out. The format is recognised
 * from the files present; all of the work happens in one staged import, so a
 * bad layer anywhere leaves the store untouched.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BadArchiveError } from '../errors.js';
import { openArchive } from './archive-files.js';
import { readDockerManifest, readDockerV1 } from './docker-archive.js';
import type { FormatReader, LoadContext, Progress } from './image-source.js';
import { readOciLayout } from './oci-source.js';
import { normalizeRef } from '../oci/reference.js';
import type { Store } from './store.js';
import type { ImageConfig } from '../oci/config.js';
import type { ImageRecord, Opener } from './types.js';
import type { UnpackLimits } from './unpack.js';

export interface LoadOptions {
  onProgress?: (p: Progress) => void;
  limits?: Partial<UnpackLimits>;
  /** Create device files (default: when running as root). */
  devices?: boolean;
}

export type ArchiveFormat = 'docker-archive' | 'docker-archive-v1' | 'oci-layout';

const READERS: Record<ArchiveFormat, FormatReader> = {
  'docker-archive': readDockerManifest,
  'docker-archive-v1': readDockerV1,
  'oci-layout': readOciLayout,
};

/** Loads every image in a docker-save archive or OCI layout (directory or tar, possibly compressed). */
export async function loadArchive(store: Store, path: string, opts: LoadOptions = {}): Promise<ImageRecord[]> {
  const { images } = await store.transaction(async (staging) => {
    const spool = join(staging.dir, 'input');
    await mkdir(spool);
    const files = await openArchive(path, spool, staging.space);
    const format: ArchiveFormat | null = files.has('manifest.json')
      ? 'docker-archive'
      : files.has('index.json')
        ? 'oci-layout'
        : files.has('repositories') || files.names().some((n) => /^[0-9a-f]{64}\/json$/.test(n))
          ? 'docker-archive-v1'
          : null;
    if (format === null) throw new BadArchiveError(path, 'not an image archive: no manifest.json, index.json or repositories');
    const p: Progress = { bytesDone: 0, bytesTotal: 0, layersDone: 0, layersTotal: 0 };
    const ctx: LoadContext = {
      files,
      staging,
      limits: opts.limits,
      devices: opts.devices,
      plan(layerFiles) {
        const unique = [...new Set(layerFiles)];
        p.layersTotal += unique.length;
        p.bytesTotal += unique.reduce((n, f) => n + files.size(f), 0);
        opts.onProgress?.({ ...p });
      },
      async layer(name, expect) {
        if (!files.has(name)) throw new BadArchiveError(path, 'layer file is missing', name);
        let read = 0;
        const ref = await staging.addLayer(() => files.open(name), {
          ...expect,
          name: `${basename(path)}: ${name}`,
          limits: opts.limits,
          devices: opts.devices,
          onBytes: (n) => {
            read += n;
            p.bytesDone += n;
            opts.onProgress?.({ ...p });
          },
        });
        p.bytesDone += Math.max(0, files.size(name) - read); // a layer the store already had is not read
        p.layersDone++;
        opts.onProgress?.({ ...p });
        return ref;
      },
    };
    const images = await READERS[format](ctx);
    if (images.length === 0) throw new BadArchiveError(path, 'the archive holds no image');
  });
  return images;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

/**
 * `import`: one tarball (a rootfs or a layer, plain or compressed) becomes a one-layer image.
 * `opts.open` reads it from elsewhere (stdin, a packed directory); `file` then only names it.
 */
export async function importTarball(store: Store, file: string, ref?: string, opts: LoadOptions & { open?: Opener; changeConfig?: (c: NonNullable<ImageConfig['config']>) => NonNullable<ImageConfig['config']> } = {}): Promise<ImageRecord> {
  const tags = ref === undefined ? [] : [normalizeRef(ref)];
  const created = new Date().toISOString();
  const { images } = await store.transaction(async (staging) => {
    const layer = await staging.addLayer(opts.open ?? (() => createReadStream(file)), { name: basename(file), limits: opts.limits, devices: opts.devices });
    const config: ImageConfig = {
      architecture: ARCH[process.arch] ?? process.arch,
      os: 'linux',
      created,
      config: opts.changeConfig ? opts.changeConfig({}) : {},
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: 'layerfs import', comment: `Imported from ${basename(file)}` }],
    };
    return staging.addImage(Buffer.from(JSON.stringify(config)), [layer], tags, file);
  });
  return images[0]!;
}
