/**
 * A container's changes, read from its upper dir against the image layers,
 * as `docker diff` lists them: A (added), C (changed), D (deleted), by path.
 * - a char 0:0 whiteout is D;
 * - an opaque dir over a lower dir is C, and each lower child it hides and
 *   the upper does not replace is D; everything under it is new (A);
 * - a dir present below with the same mode, owner and mtime is unchanged
 *   (it is only in the upper as the parent of a change), as docker does.
 */
import { readdirSync } from 'node:fs';
import { isDir, isWhiteoutStat, lstat, ST, type StatBuf } from '../sys.js';
import { mergeDir } from '../overlay/merge-dir.js';
import { Resolver, type Entry, type Found } from '../overlay/resolve.js';
import { isOpaqueDir } from '../overlay/whiteout.js';

export type ChangeKind = 'A' | 'C' | 'D';
export interface Change { kind: ChangeKind; path: string }

const sameDir = (a: StatBuf, b: StatBuf) =>
  a[ST.mode] === b[ST.mode] && a[ST.uid] === b[ST.uid] && a[ST.gid] === b[ST.gid] &&
  a[ST.mtimeSec] === b[ST.mtimeSec] && a[ST.mtimeNsec] === b[ST.mtimeNsec];

/** `lowerdirs` top first, as the container mounted them (without its init layer). */
export function containerChanges(upper: string, lowerdirs: string[]): Change[] {
  const lowers = lowerdirs.length > 0 ? new Resolver(lowerdirs.map((root) => ({ root, upper: false }))) : null;
  const changes: Change[] = [];
  const absent: Entry = { kind: 'absent' };

  const walk = (real: string, path: string, below: Found | null) => {
    for (const name of readdirSync(real).sort()) {
      const childReal = `${real}/${name}`;
      const childPath = `${path}/${name}`;
      const st = lstat(childReal);
      if (st === null) continue;
      const lower = below !== null && lowers !== null ? lowers.lookup(below, name) : absent;
      const lowerFound = lower.kind === 'found' ? lower : null;
      if (isWhiteoutStat(st)) {
        changes.push({ kind: 'D', path: childPath });
        continue;
      }
      if (!isDir(st)) {
        changes.push({ kind: lowerFound ? 'C' : 'A', path: childPath });
        continue;
      }
      const lowerDir = lowerFound && lowerFound.dirs.length > 0 ? lowerFound : null;
      const opaque = isOpaqueDir(childReal);
      if (lowerFound === null) changes.push({ kind: 'A', path: childPath });
      else if (lowerDir === null || opaque || !sameDir(st, lowerFound.stat)) changes.push({ kind: 'C', path: childPath });
      if (opaque && lowerDir !== null) {
        const mine = new Set(readdirSync(childReal));
        for (const hidden of mergeDir(lowerDir.dirs).names) {
          if (!mine.has(hidden)) changes.push({ kind: 'D', path: `${childPath}/${hidden}` });
        }
      }
      walk(childReal, childPath, opaque ? null : lowerDir);
    }
  };
  walk(upper, '', lowers?.rootEntry ?? null);
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
