/**
 * Where things are. The harness runs compiled from bench/dist/ (`npm run
 * bench`) or from its TypeScript source (the harness test under vitest), so
 * paths are found from the repository root rather than from this file.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'layerfs.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`bench: no bin/layerfs.js above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

export const REPO = repoRoot();
export const BENCH = join(REPO, 'bench');
export const LAYERFS_BIN = join(REPO, 'bin', 'layerfs.js');
/** The probe is always run compiled; the harness test compiles bench/ first. */
export const PROBE = join(BENCH, 'dist', 'probe.js');
export const DEFAULT_WORK = join(BENCH, 'work');
export const RESULTS = join(BENCH, 'results');
