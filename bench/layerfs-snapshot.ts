/**
 * The layerfs a run measures: the committed HEAD, built into a private copy.
 * Others rebuild dist/ in the checkout while they work; a long run over the
 * shared dist/ would measure several half-edited versions. The snapshot
 * shares node_modules and the native build with the checkout.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from './paths.js';
import { run } from './proc.js';

export interface LayerfsBuild { bin: string; commit: string; notes: string[] }

export async function snapshotLayerfs(dir: string, log: (m: string) => void): Promise<LayerfsBuild> {
  const notes: string[] = [];
  const commit = (await run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const dirty = (await run(['git', '-C', REPO, 'status', '--porcelain', '--', 'src', 'native', 'bin'])).stdout.trim();
  if (dirty) notes.push(`layerfs: the checkout has uncommitted changes in src/, native/ or bin/; the bench measured commit ${commit} as committed`);
  log(`layerfs: building commit ${commit} into ${dir}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'native'), { recursive: true });
  await run(['sh', '-c', `git -C "${REPO}" archive HEAD src bin package.json tsconfig.json tsconfig.build.json | tar -x -C "${dir}"`]);
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  if (existsSync(join(REPO, 'native', 'build'))) await run(['cp', '-a', join(REPO, 'native', 'build'), join(dir, 'native', 'build')]);
  try {
    await run([process.execPath, join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.build.json')], { timeoutMs: 5 * 60_000 });
  } catch (err) {
    // tsc still emits on type errors; the mount then shows whether that matters.
    notes.push(`layerfs: build of commit ${commit} reported errors (${(err as Error).message}); its emitted JS was used`);
  }
  return { bin: join(dir, 'bin', 'layerfs.js'), commit, notes };
}
