/** What each archive format reader gets: the files, the staging import, and progress reporting. */
import type { ArchiveFiles } from './archive-files.js';
import type { Staging } from './staging.js';
import type { ImageRecord, LayerRef } from './types.js';
import type { UnpackLimits } from './unpack.js';

export interface Progress {
  bytesDone: number;
  bytesTotal: number;
  layersDone: number;
  layersTotal: number;
}

export interface LoadContext {
  files: ArchiveFiles;
  staging: Staging;
  limits?: Partial<UnpackLimits>;
  devices?: boolean;
  /** Layer files (by archive name) the reader will read, announced before reading, for progress totals. */
  plan(layerFiles: string[]): void;
  /** Adds the layer stored in archive file `name`, checking the digests given. */
  layer(name: string, expect: { digest?: string; diffId?: string }): Promise<LayerRef>;
}

export type FormatReader = (ctx: LoadContext) => Promise<ImageRecord[]>;
