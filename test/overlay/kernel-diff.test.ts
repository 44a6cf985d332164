/**
 * Differential test: random sequences of changes applied to layerfs's Overlay
 * and to a real kernel overlayfs mount over identical layers (for layerfs
 * sometimes in OCI whiteout format, which the kernel does not read). After every
 * operation both must agree on the outcome (success or errno code); at the end
 * on the merged view and on what the upper layer holds.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync, chmodSync, lchownSync, linkSync, lstatSync, mkdirSync, renameSync, rmdirSync, symlinkSync, truncateSync,
  unlinkSync, writeFileSync, writeSync, constants as fsc,
} from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { mknod, S_IFIFO, setxattr, ST } from '../../src/sys.js';
import { buildTree, removeRoot, root, snapshotDir, snapshotOverlay, tempRoot, type TreeSpec } from './tree.js';

const LOWERS: TreeSpec[] = [
  { 'a/x': '1', 'b': { whiteout: 'char' }, 'c/d/e': 'e', 'g': { dir: true, opaque: 'xattr' }, 'g/h': 'h' },
  { 'a/y': '2', 'b/z': 'z', 'c/c': 'cc', 'f': 'f', 'g/old': 'hidden', 'l': { symlink: 'f' } },
];
const UPPER: TreeSpec = { 'a/u': 'u', 'e': { whiteout: 'char' } };

/** A random layer: files, dirs (some opaque), symlinks and char 0:0 whiteouts, two levels deep. */
const layerArb: fc.Arbitrary<TreeSpec> = fc
  .array(
    fc.tuple(
      fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/')),
      fc.constantFrom('file', 'dir', 'opaque', 'whiteout', 'symlink'),
    ),
    { maxLength: 10 },
  )
  .map((entries) => {
    const spec: TreeSpec = {};
    const sorted = [...entries].sort(([a], [b]) => a.split('/').length - b.split('/').length);
    for (const [path, kind] of sorted) {
      if (path in spec) continue;
      // Children only go below directories of this layer (or below nothing yet listed).
      const parts = path.split('/');
      const blocked = parts.slice(0, -1).some((_, i) => {
        const n = spec[parts.slice(0, i + 1).join('/')];
        return n !== undefined && !(typeof n === 'object' && 'dir' in n);
      });
      if (blocked) continue;
      for (let i = 1; i < parts.length; i++) spec[parts.slice(0, i).join('/')] ??= { dir: true };
      spec[path] = kind === 'file' ? `${path}@` : kind === 'dir' ? { dir: true } : kind === 'opaque' ? { dir: true, opaque: 'xattr' }
        : kind === 'whiteout' ? { whiteout: 'char' } : { symlink: 'a' };
    }
    return spec;
  });

type Op =
  | { op: 'write' | 'append'; path: string; data: string }
  | { op: 'mkdir' | 'unlink' | 'rmdir' | 'chmod' | 'mkfifo' | 'chown'; path: string }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'rename' | 'link'; path: string; to: string }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'setxattr'; path: string };

const segment = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'x', 'y');
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => '/' + s.join('/'));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('write' as const, 'append' as const), path, data: fc.constantFrom('p', 'qq') }),
  fc.record({ op: fc.constantFrom('mkdir' as const, 'unlink' as const, 'rmdir' as const, 'chmod' as const, 'mkfifo' as const, 'chown' as const), path }),
  fc.record({ op: fc.constant('truncate' as const), path, size: fc.constantFrom(0, 1) }),
  fc.record({ op: fc.constantFrom('rename' as const, 'link' as const), path, to: path }),
  fc.record({ op: fc.constant('symlink' as const), path, target: fc.constantFrom('f', 'zz') }),
  fc.record({ op: fc.constant('setxattr' as const), path }),
);

/** More runs for a deeper search: LAYERFS_DIFF_RUNS=2000 npx vitest run test/overlay/kernel-diff.test.ts */
const RUNS = Number(process.env.LAYERFS_DIFF_RUNS ?? 150);

/** The same layer with `.wh.NAME` whiteout files and `.wh..wh..opq` markers, as OCI layers are unpacked. */
function ociFormat(spec: TreeSpec): TreeSpec {
  const out: TreeSpec = {};
  for (const [path, node] of Object.entries(spec)) {
    if (typeof node === 'object' && 'whiteout' in node) out[path] = { whiteout: 'file' };
    else if (typeof node === 'object' && 'dir' in node && node.opaque !== undefined) out[path] = { ...node, opaque: 'file' };
    else out[path] = node;
  }
  return out;
}

/**
 * Drops whiteouts the kernel would treat oddly: one inside a directory it does
 * not merge is listed by its readdir and counted by its rmdir (layerfs hides
 * whiteouts everywhere). A nested whiteout is kept only when its parent is a
 * plain directory in its own layer and in the layer below.
 */
function mergedWhiteoutsOnly([lower0, lower1, upper]: [TreeSpec, TreeSpec, TreeSpec]): [TreeSpec, TreeSpec, TreeSpec] {
  const plainDir = (spec: TreeSpec | undefined, path: string) => {
    const n = spec?.[path];
    return n !== undefined && typeof n === 'object' && 'dir' in n && n.opaque === undefined;
  };
  const order = [upper, lower0, lower1]; // top first
  const cleaned = order.map((spec, i) => {
    const out: TreeSpec = {};
    for (const [path, node] of Object.entries(spec)) {
      const parent = path.split('/').slice(0, -1).join('/');
      const isWhiteout = typeof node === 'object' && 'whiteout' in node;
      if (isWhiteout && parent !== '' && !(plainDir(spec, parent) && plainDir(order[i + 1], parent))) continue;
      out[path] = node;
    }
    return out;
  });
  return [cleaned[1]!, cleaned[2]!, cleaned[0]!];
}

const codeOf = (err: unknown): string => (err as { code?: string }).code ?? String(err);
async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    return codeOf(err);
  }
}

/** The kernel follows symlinks for these; the comparison skips them on a symlink. */
const followsSymlinks = new Set(['write', 'append', 'chmod', 'truncate']);

function onKernel(mnt: string, o: Op): void {
  const p = mnt + o.path;
  switch (o.op) {
    case 'write': return writeFileSync(p, o.data);
    case 'append': return appendFileSync(p, o.data);
    case 'mkdir': return mkdirSync(p, 0o755);
    case 'unlink': return unlinkSync(p);
    case 'rmdir': return rmdirSync(p);
    case 'chmod': return chmodSync(p, 0o700);
    case 'mkfifo': return mknod(p, S_IFIFO | 0o644);
    case 'chown': return lchownSync(p, 7, 8);
    case 'truncate': return truncateSync(p, o.size);
    case 'rename': return renameSync(p, mnt + o.to);
    case 'link': return linkSync(p, mnt + o.to);
    case 'symlink': return symlinkSync(o.target, p);
    case 'setxattr': return setxattr(p, 'user.k', Buffer.from('v'));
  }
}

/** The same operation the way the kernel's VFS would drive a FUSE filesystem. */
async function onOverlay(ov: Overlay, o: Op): Promise<void> {
  const c = { ...root, umask: 0o022 };
  const exists = () => { try { return ov.getattr(o.path); } catch (err) { if (codeOf(err) === 'ENOENT') return null; throw err; } };
  switch (o.op) {
    case 'write':
    case 'append': {
      const st = exists();
      const flags = fsc.O_WRONLY | (o.op === 'write' ? fsc.O_TRUNC : fsc.O_APPEND);
      if (st !== null && (st[ST.mode]! & 0o170000) === 0o040000) throw Object.assign(new Error(), { code: 'EISDIR' });
      const fd = st !== null ? await ov.open(o.path, flags, c) : await ov.create(o.path, 0o666, flags | fsc.O_CREAT, c);
      try { writeSync(fd, o.data); } finally { ov.release(fd); }
      return;
    }
    case 'mkdir': return ov.mkdir(o.path, 0o755, c);
    case 'unlink': return ov.unlink(o.path, c);
    case 'rmdir': return ov.rmdir(o.path, c);
    case 'chmod': return ov.chmod(o.path, 0o700, c);
    case 'mkfifo': return ov.mknod(o.path, S_IFIFO | 0o644, 0, c);
    case 'chown': return ov.chown(o.path, 7, 8, c);
    case 'truncate': {
      const st = exists();
      if (st !== null && (st[ST.mode]! & 0o170000) === 0o040000) throw Object.assign(new Error(), { code: 'EISDIR' });
      return ov.truncate(o.path, o.size, c);
    }
    case 'rename': return ov.rename(o.path, o.to, c);
    case 'link': return ov.link(o.path, o.to, c);
    case 'symlink': return ov.symlink(o.target, o.path, c);
    case 'setxattr': return ov.setxattr(o.path, 'user.k', Buffer.from('v'), 0, c);
  }
}

function isSymlinkOnKernel(mnt: string, p: string): boolean {
  try { return lstatSync(mnt + p).isSymbolicLink(); } catch { return false; }
}

/**
 * Whether the VFS deals with this itself (following a symlink on the way,
 * opening a FIFO), so that a FUSE filesystem is never asked such a thing.
 */
function vfsHandles(mnt: string, o: Op): boolean {
  const paths = 'to' in o ? [o.path, o.to] : [o.path];
  for (const p of paths) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) if (isSymlinkOnKernel(mnt, '/' + parts.slice(0, i).join('/'))) return true;
  }
  if (followsSymlinks.has(o.op) && isSymlinkOnKernel(mnt, o.path)) return true;
  // Opening a FIFO blocks for a partner, and the VFS does it without asking a FUSE filesystem.
  return (o.op === 'write' || o.op === 'append' || o.op === 'truncate') && isFifoOnKernel(mnt, o.path);
}

function isFifoOnKernel(mnt: string, p: string): boolean {
  try { return lstatSync(mnt + p).isFIFO(); } catch { return false; }
}

/** Type, permission bits, owner and size of each path (times differ by when each side ran). */
function metadataOf(side: Overlay | string, paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) {
    if (typeof side === 'string') {
      const st = lstatSync(join(side, p));
      out[p] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size}`;
    } else {
      const st = side.getattr('/' + p);
      out[p] = `${st[ST.mode]!.toString(8)} ${st[ST.uid]}:${st[ST.gid]} ${(st[ST.mode]! & 0o170000) === 0o040000 ? '' : st[ST.size]}`;
    }
  }
  return out;
}

describe('against kernel overlayfs', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  it('random layers and change sequences give the same outcomes, view and upper layer', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.option(fc.tuple(layerArb, layerArb, layerArb).map(mergedWhiteoutsOnly)),
        fc.boolean(),
        async (ops, random, ociLowers) => {
          const lowers = random === null ? LOWERS : [random[0], random[1]];
          const upper = random === null ? UPPER : random[2];
          const dir = join(base, `run${run++}`);
          const k = join(dir, 'k');
          const o = join(dir, 'o');
          for (const side of [k, o]) {
            // layerfs may get the same lower layers with OCI-style `.wh.` whiteout files instead.
            const specs = side === o && ociLowers ? lowers.map(ociFormat) : lowers;
            specs.forEach((spec, i) => buildTree(join(side, `lower${i}`), spec));
            buildTree(join(side, 'upper'), upper);
            mkdirSync(join(side, 'work'));
          }
          const layerDirs = (side: string) => lowers.map((_, i) => join(side, `lower${i}`));
          const mnt = join(k, 'merged');
          mkdirSync(mnt);
          execFileSync('mount', ['-t', 'overlay', 'overlay', '-o',
            `lowerdir=${layerDirs(k).join(':')},upperdir=${k}/upper,workdir=${k}/work,redirect_dir=off,index=off,metacopy=off,xino=off`, mnt]);
          try {
            const ov = new Overlay({ lowerdirs: layerDirs(o), upperdir: join(o, 'upper'), workdir: join(o, 'work') });
            for (const step of ops) {
              if (vfsHandles(mnt, step)) continue;
              const kernel = await outcome(() => onKernel(mnt, step));
              const ours = await outcome(() => onOverlay(ov, step));
              expect(ours, JSON.stringify(step)).toBe(kernel);
            }
            const view = snapshotDir(mnt, true);
            expect(await snapshotOverlay(ov)).toEqual(view);
            expect(metadataOf(ov, Object.keys(view))).toEqual(metadataOf(mnt, Object.keys(view)));
          } finally {
            execFileSync('umount', [mnt]);
          }
          expect(snapshotDir(join(o, 'upper'))).toEqual(snapshotDir(join(k, 'upper')));
          removeRoot(dir);
        },
      ),
      { numRuns: RUNS },
    );
  }, 60_000 + RUNS * 100);
});
