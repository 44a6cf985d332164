/**
 * The scratch area beside the upper layer (`WORKDIR/work`, the same place the
 * kernel uses): every copy-up and every replacement is built here and then
 * renamed into the upper layer, so a crash never exposes a half-made entry.
 * Leftovers from an earlier run are removed when the overlay starts.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { realJoin } from './paths.js';

export class WorkDir {
  readonly dir: string;
  private counter = 0;

  constructor(workdir: string) {
    this.dir = realJoin(workdir, 'work');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) this.discard(realJoin(this.dir, name));
  }

  /** A fresh name in the work directory (nothing is created). */
  tempPath(): string {
    return realJoin(this.dir, `#${process.pid.toString(36)}-${(this.counter++).toString(36)}`);
  }

  /** Removes a work entry and anything below it; ignores one already gone. */
  discard(path: string): void {
    rmSync(path, { recursive: true, force: true });
  }
}
