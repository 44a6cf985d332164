/**
 * Putting entries into the upper layer and taking them out, so that the
 * merged view goes from one consistent state to the next in a single rename:
 * - a new entry over an upper whiteout is built in the work directory and
 *   swapped in (a directory made there is opaque, hiding what was deleted);
 * - removing a name that a lower layer still holds leaves a char 0:0 whiteout.
 */
import { RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from '../sys.js';
import { mkWhiteout, readdirSync, renameat2, renameSync, unlinkSync } from './long-path.js';
import { realJoin } from './paths.js';
import type { WhiteoutFormat } from './resolve.js';
import { removeWhiteoutFile, setOpaque } from './whiteout.js';
import type { WorkDir } from './work-dir.js';

export interface NewEntryTarget {
  upperParent: string;
  name: string;
  /** The upper whiteout currently at the name, if any. */
  whiteout: WhiteoutFormat | null;
}

/**
 * Creates an entry with `build(path)` at the target. Over an upper whiteout it
 * is built in the work directory first; a directory made there becomes opaque.
 */
export function placeNew<T>(work: WorkDir, t: NewEntryTarget, isDirectory: boolean, build: (path: string) => T): T {
  const target = realJoin(t.upperParent, t.name);
  if (t.whiteout === null) return build(target);
  const tmp = work.tempPath();
  let result: T;
  try {
    result = build(tmp);
    if (isDirectory) setOpaque(tmp);
    replaceWhiteout(tmp, t, isDirectory);
  } catch (err) {
    work.discard(tmp);
    throw err;
  }
  if (t.whiteout === 'char' && isDirectory) work.discard(tmp); // now holds the old whiteout
  return result;
}

/** Moves `from` onto an upper whiteout at the target, removing the whiteout. */
function replaceWhiteout(from: string, t: NewEntryTarget, isDirectory: boolean): void {
  const target = realJoin(t.upperParent, t.name);
  if (t.whiteout === 'file') {
    renameat2(from, target, RENAME_NOREPLACE);
    removeWhiteoutFile(t.upperParent, t.name);
  } else if (isDirectory) {
    renameat2(from, target, RENAME_EXCHANGE); // a directory cannot replace a non-directory
  } else {
    renameSync(from, target);
  }
}

/**
 * Removes the upper entry `real` (a directory only holding whiteouts is fine),
 * leaving a whiteout when `whiteout` is set.
 */
export function removeUpper(work: WorkDir, real: string, isDirectory: boolean, whiteout: boolean): void {
  if (!isDirectory && !whiteout) {
    unlinkSync(real);
    return;
  }
  const tmp = work.tempPath();
  if (whiteout) {
    mkWhiteout(tmp);
    if (isDirectory) {
      renameat2(tmp, real, RENAME_EXCHANGE);
    } else {
      renameSync(tmp, real);
      return;
    }
  } else {
    renameSync(real, tmp);
  }
  work.discard(tmp);
}

/** Writes a whiteout where the upper layer holds nothing yet. */
export function whiteoutAbsent(real: string): void {
  mkWhiteout(real);
}

/**
 * Empties an upper directory that merges to nothing (it only holds
 * whiteouts), making it opaque first when lower layers sit below it, so the
 * merged view stays empty throughout.
 */
export function clearUpperDir(real: string, hasLower: boolean, work: WorkDir): void {
  if (hasLower) setOpaque(real);
  for (const name of readdirSync(real)) {
    const tmp = work.tempPath();
    renameSync(realJoin(real, name), tmp);
    work.discard(tmp);
  }
}

/**
 * rename(2) in the upper layer, leaving a whiteout at the source when lower
 * layers still hold it. Filesystems without RENAME_WHITEOUT get rename + mknod.
 */
export function renameUpper(from: string, to: string, whiteoutSource: boolean): void {
  if (!whiteoutSource) {
    renameSync(from, to);
    return;
  }
  try {
    renameat2(from, to, RENAME_WHITEOUT);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EINVAL') throw err;
    renameSync(from, to);
    mkWhiteout(from);
  }
}
