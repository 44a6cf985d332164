/**
 * Checks the directories an overlay is made of, the way mount(8) would refuse
 * them, and turns them into layers: upper first (when there is one), then the
 * lower directories top first. Every problem names the directory and the reason.
 */
import { realpathSync, statSync } from 'node:fs';
import { LayerfsError } from '../errors.js';
import { isWithin } from './paths.js';
import type { Layer } from './resolve.js';

export interface OverlayOptions {
  /** Top layer first, like lowerdir=L1:L2. */
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  /** Metadata-only copy-up, the kernel's metacopy=on (default off). */
  metacopy?: boolean;
}

export function layersFromOptions(opts: OverlayOptions): Layer[] {
  const bad = (path: string, reason: string) =>
    new LayerfsError('BAD_MOUNT_OPTIONS', `${path}: ${reason}`, { path, reason });
  const dirOf = (path: string, what: string): string => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      throw bad(path, `${what} does not exist (${(err as NodeJS.ErrnoException).code})`);
    }
    if (!statSync(real).isDirectory()) throw bad(path, `${what} is not a directory`);
    return real;
  };
  if (opts.lowerdirs.length === 0) throw bad('lowerdir', 'at least one lower directory is needed');
  const layers: Layer[] = [];
  /** Directories the overlay writes, by option name: no lower layer may be one of them or lie inside one. */
  const written: Array<[string, string]> = [];
  if (opts.upperdir !== undefined) {
    if (opts.workdir === undefined) throw bad(opts.upperdir, 'upperdir needs a workdir');
    const upper = dirOf(opts.upperdir, 'upperdir');
    const work = dirOf(opts.workdir, 'workdir');
    if (statSync(upper).dev !== statSync(work).dev) throw bad(opts.workdir, 'workdir must be on the same filesystem as upperdir');
    if (isWithin(work, upper) || isWithin(upper, work)) throw bad(opts.workdir, 'workdir and upperdir must be separate trees');
    layers.push({ root: upper, upper: true });
    written.push(['upperdir', upper], ['workdir', work]);
  } else if (opts.workdir !== undefined) {
    throw bad(opts.workdir, 'workdir without upperdir');
  }
  for (const lower of opts.lowerdirs) {
    const real = dirOf(lower, 'lowerdir');
    for (const [what, dir] of written) {
      // The kernel refuses these too ("conflicting" / "overlapping lowerdir path").
      if (real === dir) throw bad(lower, `lowerdir is the ${what}`);
      if (isWithin(real, dir)) throw bad(lower, `lowerdir is inside the ${what}`);
    }
    layers.push({ root: real, upper: false });
  }
  return layers;
}
