/**
 * The store's one lock: a file created with O_EXCL holding the owner's pid.
 * It is held only while an import renames its staged files into place, while
 * tags change and while garbage is collected, so that a collection never
 * removes a layer another load is about to reference. A lock whose owner is
 * dead is stale and is taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { LayerfsError } from '../errors.js';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryTake(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx', 0o644);
    await fh.writeFile(String(process.pid));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    // An empty file is a lock being written right now; only a dead owner makes it stale.
    if (pid > 0 && !processAlive(pid)) await unlink(path).catch(() => {});
    return false;
  }
}

/** Runs `fn` holding the store lock; waits up to `timeoutMs` for another holder. */
export async function withLock<T>(root: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const path = join(root, 'lock');
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; !(await tryTake(path)); wait = Math.min(wait * 2, 200)) {
    if (Date.now() > deadline) throw new LayerfsError('LOCKED', `${path}: store is locked by another process`);
    await sleep(wait + Math.random() * wait);
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => {});
  }
}
