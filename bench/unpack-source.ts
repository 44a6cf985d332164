/**
 * The real tree the unpack workload extracts: a Debian bookworm minbase made
 * with debootstrap (about 200 MB, 6.8k entries), cached as a tar; or, when the
 * Debian archive cannot be reached, this repository's node_modules; under
 * --quick only node_modules/typescript. The result JSON says which was used.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from './paths.js';
import { run } from './proc.js';
import type { UnpackSource } from './workloads.js';

const MIRROR = 'http://deb.debian.org/debian';
const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;

async function describe(tar: string, description: string): Promise<UnpackSource> {
  const entries = (await run(['tar', '-tf', tar])).stdout.split('\n').filter(Boolean).length;
  return { tar, description, bytes: (await stat(tar)).size, entries };
}

async function debianMinbase(cache: string, log: (m: string) => void): Promise<string> {
  const tar = join(cache, 'debian-bookworm-minbase.tar');
  if (existsSync(tar)) return tar;
  const root = join(cache, 'debootstrap-root');
  await rm(root, { recursive: true, force: true });
  log(`debootstrap --variant=minbase bookworm from ${MIRROR} (once; cached as ${tar})`);
  try {
    await run(['debootstrap', '--variant=minbase', 'bookworm', root, MIRROR], { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS });
    await run(['tar', '--numeric-owner', '-cf', `${tar}.tmp`, '-C', root, '.']);
    await rename(`${tar}.tmp`, tar);
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(`${tar}.tmp`, { force: true });
  }
  return tar;
}

/** All of node_modules, or under --quick only its typescript package (a few hundred entries). */
async function nodeModules(cache: string, small: boolean): Promise<string> {
  const tar = join(cache, small ? 'node_modules-typescript.tar' : 'node_modules.tar');
  await run(['tar', '--numeric-owner', '-cf', tar, '-C', REPO, small ? 'node_modules/typescript' : 'node_modules']);
  return tar;
}

/** The archive to unpack, with a note for the results saying which it is and why. */
export async function unpackSource(cache: string, want: 'debian' | 'node_modules' | 'quick', log: (m: string) => void): Promise<{ source: UnpackSource; note: string }> {
  await mkdir(cache, { recursive: true });
  if (want === 'quick') {
    const source = await describe(await nodeModules(cache, true), 'node_modules/typescript');
    return { source, note: 'unpack: under --quick, node_modules/typescript as a tar (no download)' };
  }
  let why = 'asked for with --unpack node_modules';
  const wantDebian = want === 'debian';
  if (wantDebian) {
    try {
      const tar = await debianMinbase(cache, log);
      return { source: await describe(tar, 'a Debian bookworm minbase rootfs (debootstrap)'), note: 'unpack: Debian bookworm minbase made with debootstrap --variant=minbase' };
    } catch (err) {
      why = `debootstrap failed (${(err as Error).message.slice(0, 300)}), so node_modules is used instead`;
      log(`unpack: ${why}`);
    }
  }
  const source = await describe(await nodeModules(cache, false), "this repository's node_modules");
  return { source, note: `unpack: this repository's node_modules as a tar; ${why}` };
}
