/**
 * The store's one lock: flock(2) on `<root>/lock`. It is held only while an
 * import renames its staged files into place, while tags change and while
 * garbage is collected, so that a collection never removes a layer another
 * load is about to reference.
 *
 * The lock belongs to the open file, not to the file's contents: the kernel
 * drops it when the holder closes it or dies, however it dies. So there is no
 * stale lock to detect and take over (two waiters both seeing one dead owner
 * once let the second remove the lock the first had just taken), and taking
 * it writes nothing (an empty lock file left by a full disk once blocked every
 * later command). The file itself is never removed: a waiter that opened it
 * must lock the same inode the next holder locks.
 */
import { constants as fsc } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { LayerfsError } from '../errors.js';
import { flock, LOCK_EX, LOCK_NB, LOCK_UN } from '../sys.js';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const busy = (err: unknown) => ['EAGAIN', 'EWOULDBLOCK'].includes((err as { code?: string }).code ?? '');

/** The pid holding an flock on `path`, from /proc/locks (for the error message), or null. */
async function holderOf(path: string): Promise<number | null> {
  const st = await stat(path).catch(() => null);
  if (st === null) return null;
  const major = Math.floor(st.dev / 256) & 0xfff;
  const minor = (st.dev & 0xff) | (Math.floor(st.dev / 4096) & 0xfff00);
  const dev = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
  const lines = (await readFile('/proc/locks', 'utf8').catch(() => '')).split('\n');
  for (const l of lines) {
    // "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"
    const f = l.trim().split(/\s+/);
    if (f[1] !== 'FLOCK' || f.includes('->')) continue;
    if (f[5] === `${dev}:${st.ino}`) return Number(f[4]);
  }
  return null;
}

/** Runs `fn` holding the store lock; waits up to `timeoutMs` for another holder. */
export async function withLock<T>(root: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const path = join(root, 'lock');
  // O_CREAT of an empty file needs no data block, so it works on a full disk too.
  const fh = await open(path, fsc.O_RDWR | fsc.O_CREAT, 0o600);
  try {
    const deadline = Date.now() + timeoutMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
      try {
        flock(fh.fd, LOCK_EX | LOCK_NB, path);
        break;
      } catch (err) {
        if (!busy(err)) throw err;
      }
      if (Date.now() > deadline) {
        const pid = await holderOf(path);
        throw new LayerfsError('LOCKED', `${path}: store is locked by another process${pid ? ` (pid ${pid})` : ''}`, { path, pid });
      }
      await sleep(wait + Math.random() * wait);
    }
    try {
      return await fn();
    } finally {
      flock(fh.fd, LOCK_UN, path);
    }
  } finally {
    await fh.close();
  }
}
