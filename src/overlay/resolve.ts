/**
 * Path resolution through the layers, top-down, one component at a time, as
 * kernel overlayfs does it (redirect_dir=off; metacopy optional):
 * - a whiteout (char 0:0 or `.wh.NAME`) stops the descent: the name is gone;
 * - a non-directory is the entry and hides everything below it, except that
 *   with metacopy a metadata-only file takes its data from the next regular
 *   file below it (see metacopy.ts);
 * - a directory merges with directories of the same name below, until an
 *   opaque one, a whiteout or a non-directory;
 * - a child is only looked up in the layers its parent directory merged, so a
 *   whiteout or file in a higher layer cuts lower layers off for all descendants.
 * The layer copies each directory merges, and where each path was found (its
 * place: layer, real path, data file, or whiteout/absent), are cached by path;
 * the overlay tells the resolver about every change that can alter them (see
 * `invalidate`). Stats are never cached: a cached place costs one lstat.
 */
import { LRUCache } from 'lru-cache';
import { FsError } from '../errors.js';
import { fileType, isDir, isReg, isWhiteoutStat, ST, type StatBuf } from '../sys.js';
import { lstat } from './long-path.js';
import { LowerIndex } from './lower-index.js';
import { components, isWithin, realJoin } from './paths.js';
import { isMetacopy, metacopyRedirect, metacopyStat } from './metacopy.js';
import { hasWhiteoutFile, isOpaqueDir, isWhiteoutName } from './whiteout.js';

export interface Layer {
  root: string;
  upper: boolean;
}

/** One layer's copy of a directory. */
export interface LayerDir {
  layer: number;
  real: string;
}

export type WhiteoutFormat = 'char' | 'file';

export type Entry =
  | {
      kind: 'found';
      /** Index of the topmost layer holding the entry (0 is the upper layer when there is one). */
      layer: number;
      real: string;
      stat: StatBuf;
      /** For a directory: every layer copy it merges, top first. Empty for other types. */
      dirs: LayerDir[];
      /**
       * For a metadata-only copy (metacopy): the file holding the data. `stat`
       * is then the metacopy file's with the data's size and blocks.
       */
      data?: { layer: number; real: string };
    }
  | { kind: 'whiteout'; layer: number; format: WhiteoutFormat }
  | { kind: 'absent' };

export type Found = Extract<Entry, { kind: 'found' }>;

/** An entry without its stat: what stays true until the overlay changes the path. */
type Place = Exclude<Entry, Found> | (Omit<Found, 'stat'> & { type: number });

export class Resolver {
  readonly rootEntry: Found;
  private readonly dirs = new LRUCache<string, LayerDir[]>({ max: 20_000 });
  /** Keyed by normalized path, so a hit also proves the path was well formed. */
  private readonly places = new LRUCache<string, Place>({ max: 100_000 });
  private readonly index = new LowerIndex();

  /** With `metacopy`, files marked `trusted.overlay.metacopy` take their data from below. */
  constructor(readonly layers: readonly Layer[], readonly metacopy = false) {
    const dirs = layers.map((l, layer) => ({ layer, real: l.root }));
    const top = dirs[0]!;
    // The root merges every layer; like the kernel, opaque markers on layer roots are ignored.
    this.rootEntry = { kind: 'found', layer: 0, real: top.real, stat: lstat(top.real)!, dirs };
  }

  get hasUpper(): boolean {
    return this.layers[0]?.upper === true;
  }

  /** Looks `name` up in the layers its parent directory merges. */
  lookup(parent: Pick<Found, 'dirs'>, name: string): Entry {
    if (isWhiteoutName(name)) return { kind: 'absent' };
    let found: Found | undefined;
    const stack = parent.dirs;
    for (let i = 0; i < stack.length; i++) {
      const dir = stack[i]!;
      const listing = this.layers[dir.layer]!.upper ? null : this.index.get(dir.real);
      const real = realJoin(dir.real, name);
      const st = listing === null || listing.names.has(name) ? lstat(real) : null;
      if (st === null) {
        if (!(listing === null ? hasWhiteoutFile(dir.real, name) : listing.whiteouts.has(name))) continue;
        if (found !== undefined) break;
        return { kind: 'whiteout', layer: dir.layer, format: 'file' };
      }
      if (isWhiteoutStat(st)) {
        if (found !== undefined) break;
        return { kind: 'whiteout', layer: dir.layer, format: 'char' };
      }
      const last = i === stack.length - 1;
      if (found === undefined) {
        if (!isDir(st)) {
          if (this.metacopy && isMetacopy(real, st)) return this.withData(stack, i, name, real, st);
          return { kind: 'found', layer: dir.layer, real, stat: st, dirs: [] };
        }
        found = { kind: 'found', layer: dir.layer, real, stat: st, dirs: [{ layer: dir.layer, real }] };
        if (last || isOpaqueDir(real)) break;
        continue;
      }
      if (!isDir(st)) break;
      found.dirs.push({ layer: dir.layer, real });
      if (last || isOpaqueDir(real)) break;
    }
    if (found === undefined) return { kind: 'absent' };
    // Like the kernel, a merged directory reports nlink 1 rather than counting subdirectories.
    if (found.dirs.length > 1) found.stat[ST.nlink] = 1;
    return found;
  }

  /**
   * The metacopy file `real` at `stack[at]` with its data: the first regular
   * file below with the same name that is not metacopy itself, or, when the
   * kernel renamed it (a `trusted.overlay.redirect` from the root), the first
   * one at the redirect path in the layers below. Like the kernel, the search
   * stops at a whiteout or a non-regular entry; a metacopy file without data
   * then shows (and reads) as itself.
   */
  private withData(stack: readonly LayerDir[], at: number, name: string, real: string, st: StatBuf): Found {
    const meta: Found = { kind: 'found', layer: stack[at]!.layer, real, stat: st, dirs: [] };
    const redirect = metacopyRedirect(real);
    const below: { layer: number; dir: string; name: string }[] = [];
    if (redirect === null) {
      for (const d of stack.slice(at + 1)) below.push({ layer: d.layer, dir: d.real, name });
    } else {
      const slash = redirect.lastIndexOf('/');
      for (let l = meta.layer + 1; l < this.layers.length; l++) {
        below.push({ layer: l, dir: realJoin(this.layers[l]!.root, redirect.slice(0, slash)), name: redirect.slice(slash + 1) });
      }
    }
    for (const b of below) {
      const candidate = realJoin(b.dir, b.name);
      const bst = lstat(candidate);
      if (bst === null) {
        if (hasWhiteoutFile(b.dir, b.name)) break;
        continue;
      }
      if (!isReg(bst)) break;
      if (isMetacopy(candidate, bst)) continue;
      return { ...meta, stat: metacopyStat(st, bst), data: { layer: b.layer, real: candidate } };
    }
    return meta;
  }

  /** Resolves an overlay path; a missing or non-directory ancestor throws ENOENT / ENOTDIR. */
  resolve(path: string, syscall = 'lookup'): Entry {
    const hit = this.places.get(path);
    if (hit !== undefined) {
      const e = this.restat(hit);
      if (e !== null) return e;
    }
    const parts = components(path);
    const name = parts.pop();
    if (name === undefined) return this.freshRoot();
    const parent = this.dirStack(parts, path, syscall);
    const e = this.lookup({ dirs: parent }, name);
    this.places.set('/' + parts.join('/') + (parts.length > 0 ? '/' : '') + name, toPlace(e));
    return e;
  }

  /** A cached place with a fresh stat, or null when the real entry is no longer what was cached. */
  private restat(p: Place): Entry | null {
    if (p.kind !== 'found') return p;
    const st = lstat(p.real);
    if (st === null || fileType(st[ST.mode]!) !== p.type) return null;
    if (p.data !== undefined) {
      const dst = lstat(p.data.real);
      if (dst === null || !isReg(dst)) return null;
      return { kind: 'found', layer: p.layer, real: p.real, stat: metacopyStat(st, dst), dirs: [], data: p.data };
    }
    if (p.dirs.length > 1) st[ST.nlink] = 1;
    return { kind: 'found', layer: p.layer, real: p.real, stat: st, dirs: p.dirs.slice() };
  }

  /**
   * Forgets cached directory stacks at `path` and, with `subtree`, below it.
   * A directory gaining an upper copy only changes its own stack (its children
   * have no upper copy yet); removal, rename and opacity change whole subtrees.
   */
  invalidate(path: string, subtree: boolean): void {
    const key = '/' + components(path).join('/');
    this.dirs.delete(key);
    this.places.delete(key);
    if (!subtree) return;
    this.places.clear();
    for (const k of [...this.dirs.keys()]) if (isWithin(k, key)) this.dirs.delete(k);
  }

  /** The layer copies of the directory made of `parts`, from the cache or looked up. */
  private dirStack(parts: string[], path: string, syscall: string): LayerDir[] {
    if (parts.length === 0) return this.rootEntry.dirs;
    const key = '/' + parts.join('/');
    const cached = this.dirs.get(key);
    if (cached !== undefined) return cached;
    const name = parts[parts.length - 1]!;
    const parent = this.dirStack(parts.slice(0, -1), path, syscall);
    const e = this.lookup({ dirs: parent }, name);
    if (e.kind !== 'found') throw new FsError('ENOENT', syscall, path);
    if (e.dirs.length === 0) throw new FsError('ENOTDIR', syscall, path);
    this.dirs.set(key, e.dirs);
    return e.dirs;
  }

  /** Resolves a path that must exist. */
  found(path: string, syscall: string): Found {
    const e = this.resolve(path, syscall);
    if (e.kind !== 'found') throw new FsError('ENOENT', syscall, path);
    return e;
  }

  /** Resolves a path that must be an existing directory. */
  dir(path: string, syscall: string): Found {
    const e = this.found(path, syscall);
    if (e.dirs.length === 0) throw new FsError('ENOTDIR', syscall, path);
    return e;
  }

  /**
   * Whether a layer below the upper one holds a visible `name` under `parent`
   * (kernel ovl_lower_positive): removing or moving it then needs a whiteout.
   */
  lowerPositive(parent: Pick<Found, 'dirs'>, name: string): boolean {
    for (const dir of parent.dirs) {
      if (this.layers[dir.layer]!.upper) continue;
      const listing = this.index.get(dir.real);
      const st = listing === null || listing.names.has(name) ? lstat(realJoin(dir.real, name)) : null;
      if (st === null) {
        if (listing === null ? hasWhiteoutFile(dir.real, name) : listing.whiteouts.has(name)) return false;
        continue;
      }
      return !isWhiteoutStat(st);
    }
    return false;
  }

  private freshRoot(): Found {
    const stat = lstat(this.rootEntry.real)!;
    if (this.rootEntry.dirs.length > 1) stat[ST.nlink] = 1;
    return { ...this.rootEntry, stat };
  }
}

function toPlace(e: Entry): Place {
  if (e.kind !== 'found') return e;
  const type = fileType(e.stat[ST.mode]!);
  return e.data === undefined
    ? { kind: 'found', layer: e.layer, real: e.real, dirs: e.dirs.slice(), type }
    : { kind: 'found', layer: e.layer, real: e.real, dirs: [], data: e.data, type };
}
