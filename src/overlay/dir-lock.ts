/**
 * Exclusive use of an overlay's upper and work directories: an flock held on
 * each for as long as the overlay lives. A second overlay over the same
 * directories (in this process or another) is refused before it touches them;
 * its start-up would otherwise clear the work directory under the first one's
 * copy-ups. The lock goes with the fd, so a crashed daemon leaves none behind.
 * A daemon still exiting after its unmount holds it for a few milliseconds
 * more, so a lock held elsewhere is waited for, briefly, before giving up.
 */
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { LayerfsError } from '../errors.js';
import { flock, LOCK_EX, LOCK_NB } from '../sys.js';

export class DirLock {
  private constructor(private fds: number[]) {}

  /** Locks every directory (real paths), or none: a directory already locked is BAD_MOUNT_OPTIONS naming it. */
  static acquire(dirs: Array<{ path: string; what: string }>): DirLock {
    const lock = new DirLock([]);
    try {
      for (const { path, what } of dirs) {
        const fd = openSync(path, fsc.O_RDONLY | fsc.O_DIRECTORY);
        lock.fds.push(fd);
        if (!tryLock(fd, path)) {
          const reason = `${what} is in use by another mount`;
          throw new LayerfsError('BAD_MOUNT_OPTIONS', `${path}: ${reason}`, { path, reason });
        }
      }
    } catch (err) {
      lock.release();
      throw err;
    }
    return lock;
  }

  /** Gives the directories back; safe to call more than once. */
  release(): void {
    for (const fd of this.fds) closeSync(fd);
    this.fds = [];
  }
}

/** How long a lock held elsewhere is waited for. */
const WAIT_MS = 1000;
const POLL_MS = 20;

/** Takes the lock, waiting up to WAIT_MS for another holder to let go; false when it does not. */
function tryLock(fd: number, path: string): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; ; waited += POLL_MS) {
    try {
      flock(fd, LOCK_EX | LOCK_NB, path);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw err;
      if (waited >= WAIT_MS) return false;
      Atomics.wait(pause, 0, 0, POLL_MS);
    }
  }
}
