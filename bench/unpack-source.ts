/**
 * The real tree the unpack workload extracts: a Debian bookworm minbase made
 * with debootstrap (about 200 MB, 6.8k entries), cached as a tar; or, when the
 * Debian archive cannot be reached (or under --quick), this repository's
 * node_modules. The result JSON says which one was used.
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

async function nodeModules(cache: string): Promise<string> {
  const tar = join(cache, 'node_modules.tar');
  await run(['tar', '--numeric-owner', '-cf', tar, '-C', REPO, 'node_modules']);
  return tar;
}

/** The archive to unpack, with a note for the results saying which it is and why. */
export async function unpackSource(cache: string, wantDebian: boolean, log: (m: string) => void): Promise<{ source: UnpackSource; note: string }> {
  await mkdir(cache, { recursive: true });
  let why = 'under --quick the node_modules tree is used (no download)';
  if (wantDebian) {
    try {
      const tar = await debianMinbase(cache, log);
      return { source: await describe(tar, 'a Debian bookworm minbase rootfs (debootstrap)'), note: 'unpack: Debian bookworm minbase made with debootstrap --variant=minbase' };
    } catch (err) {
      why = `debootstrap failed (${(err as Error).message.slice(0, 300)}), so node_modules is used instead`;
      log(`unpack: ${why}`);
    }
  }
  const source = await describe(await nodeModules(cache), "this repository's node_modules");
  return { source, note: `unpack: this repository's node_modules as a tar; ${why}` };
}
