/**
 * Test trees: materialise a layer from a small spec, and describe a real
 * directory or a merged overlay view in the same shape, so table rows can say
 * what a layer holds before and what it (and the overlay) holds after.
 */
import { chmodSync, closeSync, lchownSync, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, readSync, rmSync, symlinkSync, writeFileSync, constants as fsc } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { afterEach, beforeEach } from 'vitest';
import { dirname, join } from 'node:path';
import {
  fileType, getxattr, isWhiteoutStat, lstat, mkWhiteout, mknod, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, setxattr, ST,
  utimens, type StatBuf,
} from '../../src/sys.js';
import type { Caller, Overlay } from '../../src/overlay/overlay.js';

export type Node =
  | string
  | { file: string; mode?: number; mtime?: [number, number]; uid?: number; gid?: number; xattrs?: Record<string, string> }
  | { dir: true; mode?: number; mtime?: [number, number]; uid?: number; gid?: number; opaque?: 'xattr' | 'file'; xattrs?: Record<string, string> }
  | { symlink: string }
  | { whiteout: 'char' | 'file' }
  | { fifo: true }
  | { chr: [number, number] };

/** Relative path → node; parents are made as plain directories when not listed. */
export type TreeSpec = Record<string, Node>;

export const root: Caller = { uid: 0, gid: 0, pid: 1, umask: 0o022 };

export function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'layerfs-ovl-'));
}

export function removeRoot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A scratch root for each test of the calling describe, and a tmpfs over one
 * of its dirs when a test asks (a lower layer on another filesystem); both
 * are gone after each test.
 */
export function scratchPerTest(): { base(): string; mountTmpfs(dir: string): void } {
  let base = '';
  let mounted: string | undefined;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => {
    if (mounted) execFileSync('umount', [mounted]);
    mounted = undefined;
    removeRoot(base);
  });
  return {
    base: () => base,
    mountTmpfs: (dir) => {
      execFileSync('mount', ['-t', 'tmpfs', 'lower', dir]);
      mounted = dir;
    },
  };
}

export function buildTree(base: string, spec: TreeSpec): void {
  mkdirSync(base, { recursive: true });
  const later: Array<() => void> = [];
  // Shallow first, so a listed directory exists before its children; times last, deepest first.
  const paths = Object.keys(spec).sort((a, b) => a.split('/').length - b.split('/').length);
  for (const rel of paths) {
    const node = spec[rel]!;
    const p = join(base, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof node === 'string') {
      writeFileSync(p, node);
    } else if ('file' in node) {
      writeFileSync(p, node.file);
      attrs(p, node, later);
    } else if ('dir' in node) {
      mkdirSync(p, { recursive: true });
      if (node.opaque === 'xattr') setxattr(p, 'trusted.overlay.opaque', Buffer.from('y'));
      if (node.opaque === 'file') writeFileSync(join(p, '.wh..wh..opq'), '');
      attrs(p, node, later);
    } else if ('symlink' in node) {
      symlinkSync(node.symlink, p);
    } else if ('whiteout' in node) {
      if (node.whiteout === 'char') mkWhiteout(p);
      else writeFileSync(join(dirname(p), '.wh.' + rel.split('/').pop()), '');
    } else if ('chr' in node) {
      mknod(p, S_IFCHR | 0o644, node.chr[0], node.chr[1]);
    } else {
      mknod(p, S_IFIFO | 0o644);
    }
  }
  for (const f of later.reverse()) f();
}

function attrs(
  p: string,
  n: { mode?: number; mtime?: [number, number]; uid?: number; gid?: number; xattrs?: Record<string, string> },
  later: Array<() => void>,
): void {
  if (n.uid !== undefined || n.gid !== undefined) {
    const st = lstat(p)!;
    lchownSync(p, n.uid ?? st[ST.uid]!, n.gid ?? st[ST.gid]!);
  }
  if (n.mode !== undefined) chmodSync(p, n.mode);
  for (const [k, v] of Object.entries(n.xattrs ?? {})) setxattr(p, k, Buffer.from(v));
  if (n.mtime !== undefined) {
    const [s, ns] = n.mtime;
    later.push(() => utimens(p, s, ns, s, ns));
  }
}

/** One line per entry, e.g. 'file:hello', 'dir', 'dir opaque', 'whiteout', 'symlink:../x', 'fifo'. */
export type Snapshot = Record<string, string>;

function describeReal(p: string, st: StatBuf, showOpaque: boolean): string {
  switch (fileType(st[ST.mode]!)) {
    case S_IFREG: return 'file:' + readContent(p);
    case S_IFDIR: {
      const v = showOpaque ? getxattr(p, 'trusted.overlay.opaque') : null;
      return v?.toString() === 'y' ? 'dir opaque' : 'dir';
    }
    case S_IFLNK: return 'symlink:' + readlinkSync(p);
    case S_IFCHR: return isWhiteoutStat(st) ? 'whiteout' : `chr:${st[ST.rdev]}`;
    case S_IFIFO: return 'fifo';
    default: return 'other';
  }
}

function readContent(p: string): string {
  const fd = openSync(p, fsc.O_RDONLY);
  try {
    return readFd(fd);
  } finally {
    closeSync(fd);
  }
}

export function readFd(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  let pos = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
  return Buffer.concat(chunks).toString();
}

/**
 * What a real directory holds (a layer), opaque markers included.
 * `skipVanishing` drops names that readdir lists but lstat cannot find: kernel
 * overlayfs lists whiteouts that sit in a directory it does not merge.
 */
export function snapshotDir(base: string, skipVanishing = false): Snapshot {
  const out: Snapshot = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(base, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const p = join(base, r);
      const st = lstat(p);
      if (st === null && skipVanishing) continue;
      if (st === null) throw new Error(`${p} is listed but does not exist`);
      out[r] = describeReal(p, st, true);
      if (fileType(st[ST.mode]!) === S_IFDIR) walk(r);
    }
  };
  walk('');
  return out;
}

/**
 * What the overlay shows, walked through readdir/getattr/readlink/open.
 * Checks on the way that every readdir stat equals lookup's of that child.
 */
export async function snapshotOverlay(ov: Overlay, dir = '/'): Promise<Snapshot> {
  const out: Snapshot = {};
  const walk = async (path: string, rel: string) => {
    const { names, stats } = ov.readdir(path);
    const order = names.map((n, i) => [n, i] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, i] of order) {
      const p = path === '/' ? `/${name}` : `${path}/${name}`;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = ov.getattr(p);
      if (!sameStat(ov.lookup(p).stat, stats[i]!)) throw new Error(`readdir stat of ${p} differs from lookup`);
      switch (fileType(st[ST.mode]!)) {
        case S_IFREG: {
          const fd = await ov.open(p, fsc.O_RDONLY, root);
          try {
            out[r] = 'file:' + readFd(fd);
          } finally {
            ov.release(fd);
          }
          break;
        }
        case S_IFDIR:
          out[r] = 'dir';
          await walk(p, r);
          break;
        case S_IFLNK: out[r] = 'symlink:' + ov.readlink(p); break;
        case S_IFCHR: out[r] = isWhiteoutStat(st) ? 'WHITEOUT LEAKED' : `chr:${st[ST.rdev]}`; break;
        case S_IFIFO: out[r] = 'fifo'; break;
        default: out[r] = 'other';
      }
    }
  };
  await walk(dir, '');
  return out;
}

/** Equal in everything but atime (reading a file may move it). */
export function sameStat(a: StatBuf, b: StatBuf): boolean {
  for (let i = 0; i < 16; i++) {
    if (i === ST.atimeSec || i === ST.atimeNsec) continue;
    if (a[i] !== b[i]) return false;
  }
  return true;
}

export interface LayerSpecs {
  /** Top first, like lowerdir=L1:L2. */
  lower: TreeSpec[];
  /** Omitted: a read-only overlay. */
  upper?: TreeSpec;
}

export interface Fixture {
  base: string;
  lowers: string[];
  upper: string;
  work: string;
}

/** Builds the layers under `base` and returns their directories. */
export function buildLayers(base: string, layers: LayerSpecs): Fixture {
  const lowers = layers.lower.map((spec, i) => {
    const dir = join(base, `lower${i}`);
    buildTree(dir, spec);
    return dir;
  });
  const upper = join(base, 'upper');
  const work = join(base, 'work');
  if (layers.upper !== undefined) {
    buildTree(upper, layers.upper);
    mkdirSync(work);
  }
  return { base, lowers, upper, work };
}
