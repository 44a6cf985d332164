/**
 * rename() across layers, as kernel overlayfs does it with redirect_dir=off:
 * non-directories are copied up and renamed in the upper layer, leaving a
 * whiteout where a lower layer still holds the source; a directory with lower
 * copies cannot move (EXDEV, so `mv` copies); an upper-only directory moves
 * and becomes opaque when it lands in a merged directory. Checks come in the
 * VFS's order, so errors match the kernel's.
 */
import { FsError } from '../errors.js';
import { RENAME_EXCHANGE } from '../sys.js';
import type { CopyUp } from './copy-up.js';
import { renameat2, unlinkSync } from './long-path.js';
import { mergeDir } from './merge-dir.js';
import { isWithin, normalize, realJoin, splitParent } from './paths.js';
import { hasOrigin, markImpure } from './origin.js';
import { clearUpperDir, renameUpper } from './place.js';
import type { Found, Resolver } from './resolve.js';
import { isOpaqueDir, isWhiteoutName, removeWhiteoutFile, setOpaque, WHITEOUT_PREFIX } from './whiteout.js';
import type { WorkDir } from './work-dir.js';

export interface RenameContext {
  resolver: Resolver;
  copier: CopyUp;
  work: WorkDir;
}

/** Renames when the source is in the upper layer (or fails); false when it must be copied up first. */
export function renameNow(ctx: RenameContext, from: string, to: string): boolean {
  const { resolver, copier, work } = ctx;
  const f = splitParent(from, 'rename', 'EBUSY');
  const t = splitParent(to, 'rename', 'EBUSY');
  if (isWhiteoutName(t.name)) throw new FsError('EINVAL', 'rename', to, `names starting '${WHITEOUT_PREFIX}' are reserved`);
  const fromDir = resolver.dir(f.parent, 'rename');
  const toDir = resolver.dir(t.parent, 'rename');
  const src = resolver.lookup(fromDir, f.name);
  if (src.kind !== 'found') throw new FsError('ENOENT', 'rename', from);
  const dst = resolver.lookup(toDir, t.name);
  const nFrom = normalize(from);
  const nTo = normalize(to);
  if (nFrom === nTo) return true;
  const srcIsDir = src.dirs.length > 0;
  if (srcIsDir && isWithin(nTo, nFrom)) throw new FsError('EINVAL', 'rename', from);
  if (isWithin(nFrom, nTo)) throw new FsError('ENOTEMPTY', 'rename', to); // onto its own ancestor
  if (dst.kind === 'found') {
    const dstIsDir = dst.dirs.length > 0;
    if (srcIsDir && !dstIsDir) throw new FsError('ENOTDIR', 'rename', to);
    if (!srcIsDir && dstIsDir) throw new FsError('EISDIR', 'rename', to);
  }
  const isUpper = (e: Found) => resolver.layers[e.layer]!.upper;
  const movable = (e: Found) => e.dirs.every((d) => resolver.layers[d.layer]!.upper);
  // redirect_dir=off: a directory with lower copies cannot move.
  if (srcIsDir && !movable(src)) throw new FsError('EXDEV', 'rename', from);
  // A target with lower copies is checked here; an upper-only one by rename(2) itself, as the kernel does.
  if (dst.kind === 'found' && !movable(dst) && mergeDir(dst.dirs).names.length > 0) {
    throw new FsError('ENOTEMPTY', 'rename', to);
  }
  // A metacopy file is completed first: moving it would need a redirect, which layerfs does not write.
  if (!isUpper(src) || src.data !== undefined) return false;

  const upperToParent = copier.ensureUpperDir(t.parent);
  const target = realJoin(upperToParent, t.name);
  const whiteoutSource = resolver.lowerPositive(fromDir, f.name);
  // A file with a copy-up origin moving to another directory makes it impure, as on the
  // kernel: its listing must then look origins up (origin.ts).
  if (!srcIsDir && realJoin(upperToParent, f.name) !== src.real && hasOrigin(src.real)) markImpure(upperToParent);
  if (srcIsDir && !movable(toDir) && !isOpaqueDir(src.real)) {
    // Like the kernel: a directory moved into a merged directory is made opaque, so it can
    // never merge with lower copies there. It merges with nothing now, so this changes nothing yet.
    setOpaque(src.real);
  }
  if (dst.kind === 'found' && dst.dirs.length > 0 && !movable(dst) && isUpper(dst)) {
    clearUpperDir(dst.real, true, work);
  }
  if (dst.kind === 'whiteout' && resolver.layers[dst.layer]!.upper) {
    if (dst.format === 'file') {
      renameUpper(src.real, target, whiteoutSource);
      removeWhiteoutFile(upperToParent, t.name);
      return true;
    }
    if (srcIsDir) {
      // A directory cannot replace the whiteout; swap them, and the whiteout lands on the source.
      renameat2(src.real, target, RENAME_EXCHANGE);
      if (!whiteoutSource) unlinkSync(src.real);
      return true;
    }
  }
  renameUpper(src.real, target, whiteoutSource);
  return true;
}
