/**
 * Builds directory trees from compact specs (test fixtures as data), and
 * snapshots trees into plain objects to compare. Kernel-format whiteouts,
 * `.wh.` files, opaque xattrs, devices, FIFOs, hard links and ns-exact times.
 */
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import * as sys from '../../src/sys.js';

export type Entry =
  | string // a regular file with this content
  | { type: 'file'; content?: string | Buffer; mode?: number; uid?: number; gid?: number; mtime?: string; xattrs?: Record<string, string> }
  | { type: 'dir'; mode?: number; uid?: number; gid?: number; opaque?: boolean; mtime?: string; xattrs?: Record<string, string> }
  | { type: 'symlink'; target: string }
  | { type: 'whiteout' }
  | { type: 'fifo'; mode?: number }
  | { type: 'chr'; major: number; minor: number; mode?: number }
  | { type: 'hardlink'; to: string };
export type TreeSpec = Record<string, Entry>;

/** '2001-02-03T04:05:06.123456789Z' → [sec, nsec] */
export function parseTime(t: string): [number, number] {
  const m = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(t);
  if (!m) throw new Error(`bad time ${t}`);
  return [Date.parse(m[1]! + 'Z') / 1000, Number((m[2] ?? '0').padEnd(9, '0'))];
}

/** A fixed time every fixture entry gets unless it names its own. */
export const FIXTURE_TIME = '2001-02-03T04:05:06.123456789Z';

export function makeTree(root: string, spec: TreeSpec): void {
  mkdirSync(root, { recursive: true });
  const times: Array<[string, string]> = [[root, FIXTURE_TIME]];
  // Parents before children, so a dir's own settings are applied once it exists.
  for (const name of Object.keys(spec).sort()) {
    const e = spec[name]!;
    const p = join(root, name);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof e === 'string') {
      writeFileSync(p, e);
      times.push([p, FIXTURE_TIME]);
      continue;
    }
    switch (e.type) {
      case 'file':
        writeFileSync(p, e.content ?? '');
        break;
      case 'dir':
        mkdirSync(p, { recursive: true });
        if (e.opaque) sys.setxattr(p, 'trusted.overlay.opaque', Buffer.from('y'));
        break;
      case 'symlink':
        symlinkSync(e.target, p);
        break;
      case 'whiteout':
        sys.mkWhiteout(p);
        break;
      case 'fifo':
        sys.mknod(p, sys.S_IFIFO | (e.mode ?? 0o644));
        break;
      case 'chr':
        sys.mknod(p, sys.S_IFCHR | (e.mode ?? 0o644), e.major, e.minor);
        break;
      case 'hardlink':
        linkSync(join(root, e.to), p);
        break;
    }
    if (e.type === 'file' || e.type === 'dir') {
      if (e.uid !== undefined || e.gid !== undefined) chownSync(p, e.uid ?? 0, e.gid ?? 0);
      if (e.mode !== undefined) chmodSync(p, e.mode);
      // '0x…' values are hex (binary xattrs such as security.capability).
      for (const [k, v] of Object.entries(e.xattrs ?? {})) sys.setxattr(p, k, v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.from(v));
    }
    if (e.type !== 'hardlink') times.push([p, (e.type === 'file' || e.type === 'dir' ? e.mtime : undefined) ?? FIXTURE_TIME]);
  }
  // Directories made implicitly as parents get the fixture time too.
  for (const name of Object.keys(spec)) {
    for (let d = dirname(name); d !== '.'; d = dirname(d)) if (!(d in spec)) times.push([join(root, d), FIXTURE_TIME]);
  }
  // Times last, deepest first: creating children changes a dir's mtime.
  for (const [p, t] of times.sort((a, b) => b[0].length - a[0].length)) {
    const [s, ns] = parseTime(t);
    sys.utimens(p, s, ns, s, ns);
  }
}

export interface SnapOptions {
  /** Times at or after this (ns since epoch) show as 'new': they depend on when the test ran. */
  since: bigint;
  /** xattr names to leave out (e.g. the kernel's own trusted.overlay.* bookkeeping). */
  skipXattr?: (name: string) => boolean;
  /** Leave out directory link counts (they differ by design in an upper dir). */
  dirNlink?: boolean;
}

export interface Snap {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  nlink?: number;
  size?: number;
  sha?: string;
  target?: string;
  rdev?: string;
  mtime: string;
  xattrs?: Record<string, string>;
}

function typeOf(mode: number): string {
  switch (mode & sys.S_IFMT) {
    case sys.S_IFDIR: return 'dir';
    case sys.S_IFREG: return 'file';
    case sys.S_IFLNK: return 'symlink';
    case sys.S_IFCHR: return 'chr';
    case sys.S_IFBLK: return 'blk';
    case sys.S_IFIFO: return 'fifo';
    default: return 'sock';
  }
}

/** A plain-object picture of every entry below root, keyed by relative path. */
export function snapshot(root: string, opts: SnapOptions): Record<string, Snap> {
  const out: Record<string, Snap> = {};
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p, { bigint: true });
    const mode = Number(st.mode);
    const type = typeOf(mode);
    const s: Snap = {
      type,
      mode: (mode & 0o7777).toString(8),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: st.mtimeNs >= opts.since ? 'new' : st.mtimeNs.toString(),
    };
    // The kernel hard-links every whiteout to one shared inode: their link count says nothing.
    const whiteout = type === 'chr' && st.rdev === 0n;
    if ((type !== 'dir' || opts.dirNlink) && !whiteout) s.nlink = Number(st.nlink);
    if (type === 'file') {
      s.size = Number(st.size);
      s.sha = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
    }
    if (type === 'symlink') s.target = readlinkSync(p);
    if (type === 'chr' || type === 'blk') s.rdev = `${Number(st.rdev) >> 8}:${Number(st.rdev) & 0xff}`;
    const names = sys.listxattr(p).filter((n) => !(opts.skipXattr?.(n) ?? false)).sort();
    if (names.length) {
      s.xattrs = Object.fromEntries(names.map((n) => [n, (sys.getxattr(p, n) ?? Buffer.alloc(0)).toString('hex')]));
    }
    out[rel || '.'] = s;
    if (type === 'dir') for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return out;
}
