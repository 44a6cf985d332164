/**
 * A merged directory listing: names from every layer copy of the directory,
 * de-duplicated with the upper copy winning, without whiteouts, `.wh.*` names,
 * or anything a higher layer whited out. Each child's stat is the one getattr
 * gives (topmost copy; nlink 1 for a merged directory).
 */
import { isWhiteoutStat, ST, type StatBuf } from '../sys.js';
import { lstat, readdirTypes } from './long-path.js';
import { realJoin } from './paths.js';
import type { LayerDir } from './resolve.js';
import { isOpaqueDir, isWhiteoutName, WHITEOUT_PREFIX } from './whiteout.js';

interface Child {
  real: string;
  isDir: boolean;
  /** A directory whose lower copies are still being looked for. */
  open: boolean;
  /** A directory with at least one lower copy (merged unless the top copy is opaque). */
  mergesBelow: boolean;
}

export interface Listing {
  names: string[];
  stats: StatBuf[];
}

export function mergeDir(dirs: readonly LayerDir[]): Listing {
  const children = new Map<string, Child>();
  const hidden = new Set<string>(); // whited out for the layers below the current one
  for (const dir of dirs) {
    const whiteoutFiles: string[] = [];
    for (const ent of readdirTypes(dir.real)) {
      const name = ent.name;
      if (isWhiteoutName(name)) {
        whiteoutFiles.push(name.slice(WHITEOUT_PREFIX.length));
        continue;
      }
      const seen = children.get(name);
      if (seen !== undefined) {
        if (seen.open) {
          seen.open = false;
          seen.mergesBelow = ent.isDirectory();
        }
        continue;
      }
      if (hidden.has(name)) continue;
      const real = realJoin(dir.real, name);
      if (ent.isCharacterDevice()) {
        const st = lstat(real);
        if (st !== null && isWhiteoutStat(st)) {
          hidden.add(name);
          continue;
        }
      }
      const isDirectory = ent.isDirectory();
      children.set(name, { real, isDir: isDirectory, open: isDirectory, mergesBelow: false });
    }
    for (const name of whiteoutFiles) {
      hidden.add(name);
      const seen = children.get(name);
      if (seen !== undefined) seen.open = false;
    }
  }

  const names: string[] = [];
  const stats: StatBuf[] = [];
  for (const [name, child] of children) {
    const st = lstat(child.real);
    if (st === null) continue; // removed under us
    if (child.mergesBelow && !isOpaqueDir(child.real)) st[ST.nlink] = 1;
    names.push(name);
    stats.push(st);
  }
  return { names, stats };
}
