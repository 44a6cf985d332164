/** `layerfs load [-i FILE|DIR]` (stdin without -i) and `layerfs load --builtin hello-world`. */
import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { nonEmptyStdin } from './stdin.js';
import { UsageError } from '../errors.js';
import { humanSize } from './format.js';
import { loadBuiltin } from '../store/hello-world.js';
import type { Progress } from '../store/image-source.js';
import { loadArchive } from '../store/load.js';
import type { ImageRecord } from '../store/types.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';

/** A bar with bytes and layers on a terminal; nothing when stderr is piped or --quiet. */
function progressBar(enabled: boolean): { update(p: Progress): void; stop(): void } {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new SingleBar({
    format: 'loading [{bar}] {percentage}% | {done}/{size} | layers {layersDone}/{layersTotal}',
    hideCursor: true,
    clearOnComplete: true,
    stream: process.stderr,
  });
  let started = false;
  return {
    update(p) {
      const payload = { done: humanSize(p.bytesDone), size: humanSize(p.bytesTotal), layersDone: p.layersDone, layersTotal: p.layersTotal };
      if (!started) {
        bar.start(Math.max(p.bytesTotal, 1), 0, payload);
        started = true;
      }
      bar.setTotal(Math.max(p.bytesTotal, 1));
      bar.update(p.bytesDone, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function printLoaded(images: ImageRecord[]): void {
  for (const img of images) {
    if (img.repoTags.length === 0) process.stdout.write(`Loaded image ID: ${img.id}\n`);
    for (const t of img.repoTags) process.stdout.write(`Loaded image: ${t}\n`);
  }
}

/** Spools stdin into the store's tmp dir (an archive is read by name, more than once), for `load < FILE`. */
async function spoolStdin(root: string, input: Readable): Promise<string> {
  const file = join(root, 'tmp', `${process.pid}-stdin-${Date.now()}.tar`);
  await pipeline(input, createWriteStream(file, { mode: 0o600 }));
  return file;
}

export function register(program: Command): void {
  withRoot(
    program
      .command('load')
      .description('load images from a docker-save archive or an OCI layout (directory or tar; layers plain, gzip or zstd), from -i or stdin')
      .option('-i, --input <path>', 'archive file or OCI layout directory (default: stdin)')
      .option('--builtin <name>', 'build a built-in image instead (hello-world)')
      .option('-q, --quiet', 'no progress bar'),
  ).action(async (opts: RootOptions & { input?: string; builtin?: string; quiet?: boolean }) => {
    if (opts.input !== undefined && opts.builtin !== undefined) throw new UsageError('load takes -i FILE or --builtin NAME, not both');
    let stdin: Readable | null = null;
    if (opts.input === undefined && opts.builtin === undefined) {
      if (process.stdin.isTTY) throw new UsageError('load: requested load from stdin, but stdin is a terminal; use -i FILE or redirect (layerfs load < image.tar)');
      stdin = await nonEmptyStdin();
      if (stdin === null) throw new UsageError('load: stdin is empty; use -i FILE or redirect an archive (layerfs load < image.tar)');
    }
    const store = await openStore(opts);
    if (opts.builtin !== undefined) return printLoaded([await loadBuiltin(store, opts.builtin)]);
    const input = opts.input ?? (await spoolStdin(store.root, stdin!));
    const bar = progressBar(!opts.quiet && process.stderr.isTTY === true);
    let images: ImageRecord[];
    try {
      images = await loadArchive(store, input, { onProgress: (p) => bar.update(p) });
    } finally {
      bar.stop();
      if (opts.input === undefined) await rm(input, { force: true });
    }
    printLoaded(images);
  });
}
