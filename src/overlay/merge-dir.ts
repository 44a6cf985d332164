/**
 * A merged directory listing: names from every layer copy of the directory,
 * de-duplicated with the upper copy winning, without whiteouts, `.wh.*` names,
 * or anything a higher layer whited out. Each child's stat is the one getattr
 * gives (topmost copy; nlink 1 for a merged directory), with the layer it
 * comes from and, for a merged directory, its first lower copy.
 */
import { isWhiteoutStat, ST, type StatBuf } from '../sys.js';
import { lstat, readdirTypes } from './long-path.js';
import { realJoin } from './paths.js';
import type { LayerDir } from './resolve.js';
import { isOpaqueDir, isWhiteoutName, WHITEOUT_PREFIX } from './whiteout.js';

interface Child {
  real: string;
  layer: number;
  /** The first copy below the top one, while it may be merged. */
  below?: string;
  isDir: boolean;
  /** A directory whose lower copies are still being looked for. */
  open: boolean;
  /** A directory with at least one lower copy (merged unless the top copy is opaque). */
  mergesBelow: boolean;
}

export interface Listing {
  names: string[];
  stats: StatBuf[];
  /** The layer each entry's stat comes from. */
  layers: number[];
  /** For a merged directory (not opaque, with a lower copy): the real path of its first lower copy. */
  below: (string | undefined)[];
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
          if (seen.mergesBelow) seen.below = realJoin(dir.real, name);
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
      children.set(name, { real, layer: dir.layer, isDir: isDirectory, open: isDirectory, mergesBelow: false });
    }
    for (const name of whiteoutFiles) {
      hidden.add(name);
      const seen = children.get(name);
      if (seen !== undefined) seen.open = false;
    }
  }

  const out: Listing = { names: [], stats: [], layers: [], below: [] };
  for (const [name, child] of children) {
    const st = lstat(child.real);
    if (st === null) continue; // removed under us
    const merged = child.mergesBelow && !isOpaqueDir(child.real);
    if (merged) st[ST.nlink] = 1;
    out.names.push(name);
    out.stats.push(st);
    out.layers.push(child.layer);
    out.below.push(merged ? child.below : undefined);
  }
  return out;
}
