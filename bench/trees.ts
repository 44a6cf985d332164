/**
 * Lower trees: built once from a spec, kept under the work dir, and reused
 * read-only as the lowerdir of every system, so all systems see the same bytes.
 * A tree is complete when `<dir>.spec.json` beside it holds its spec; a
 * half-built tree from an interrupted run is thrown away and rebuilt.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type TreeSpec =
  /** Named regular files at the top of the tree. */
  | { kind: 'files'; files: { name: string; size: number }[] }
  /** `sub/dNNN/fNNN`: `dirs` directories of `perDir` files of `size` bytes. */
  | { kind: 'grid'; sub: string; dirs: number; perDir: number; size: number }
  /** One directory `sub` holding `entries` empty files. */
  | { kind: 'wide'; sub: string; entries: number }
  | { kind: 'empty' };

const pad = (n: number) => String(n).padStart(3, '0');

/** The path of one grid file, relative to the grid's `sub` dir. */
export const gridPath = (dir: number, file: number) => `d${pad(dir)}/f${pad(file)}`;

export function treeBytes(spec: TreeSpec): number {
  switch (spec.kind) {
    case 'files': return spec.files.reduce((n, f) => n + f.size, 0);
    case 'grid': return spec.dirs * spec.perDir * spec.size;
    case 'wide': case 'empty': return 0;
  }
}

export function treeName(spec: TreeSpec): string {
  switch (spec.kind) {
    case 'files': return `files-${spec.files.map((f) => `${f.name}.${f.size}`).join('-')}`;
    case 'grid': return `grid-${spec.sub}-${spec.dirs}x${spec.perDir}x${spec.size}`;
    case 'wide': return `wide-${spec.sub}-${spec.entries}`;
    case 'empty': return 'empty';
  }
}

// Incompressible content, so no filesystem can cheat on zeros.
const pattern = randomBytes(1 << 20);

async function writeData(path: string, size: number): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    for (let off = 0; off < size; off += pattern.length) {
      await fh.write(pattern, 0, Math.min(pattern.length, size - off), off);
    }
  } finally {
    await fh.close();
  }
}

async function build(spec: TreeSpec, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  switch (spec.kind) {
    case 'files':
      for (const f of spec.files) await writeData(join(dir, f.name), f.size);
      return;
    case 'grid':
      for (let d = 0; d < spec.dirs; d++) {
        await mkdir(join(dir, spec.sub, `d${pad(d)}`), { recursive: true });
        for (let f = 0; f < spec.perDir; f++) await writeData(join(dir, spec.sub, gridPath(d, f)), spec.size);
      }
      return;
    case 'wide':
      await mkdir(join(dir, spec.sub));
      for (let i = 0; i < spec.entries; i++) await writeFile(join(dir, spec.sub, `entry-${i}`), '');
      return;
    case 'empty':
      return;
  }
}

/** The directory holding `spec`'s tree under `root`, built on first use. */
export async function ensureTree(root: string, spec: TreeSpec, log: (msg: string) => void): Promise<string> {
  const dir = join(root, treeName(spec));
  const marker = `${dir}.spec.json`;
  const want = JSON.stringify(spec);
  if (existsSync(marker) && (await readFile(marker, 'utf8')) === want && existsSync(dir)) return dir;
  log(`building lower tree ${treeName(spec)} (${(treeBytes(spec) / 2 ** 20).toFixed(0)} MiB)`);
  await rm(marker, { force: true });
  await rm(dir, { recursive: true, force: true });
  const tmp = `${dir}.building`;
  await rm(tmp, { recursive: true, force: true });
  await build(spec, tmp);
  await rename(tmp, dir);
  await writeFile(marker, want);
  return dir;
}
