/**
 * Differential test: random sequences of changes applied to layerfs's Overlay
 * and to a real kernel overlayfs mount over identical layers (for layerfs
 * sometimes in OCI whiteout format, which the kernel does not read). After every
 * operation both must agree on the outcome (success or errno code); at the end
 * on the merged view and on what the upper layer holds.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { propertySeed } from '../helpers/property-runs.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { metadataOf, mountKernelOverlay, onKernel, onOverlay, type Op, outcome } from './ops.js';
import { buildTree, removeRoot, snapshotDir, snapshotOverlay, tempRoot, type TreeSpec } from './tree.js';

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

/** A deeper search: LAYERFS_RANDOM_SEED=random LAYERFS_DIFF_RUNS=2000 npx vitest run test/overlay/kernel-diff.test.ts */
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

/** The kernel follows symlinks for these; the comparison skips them on a symlink. */
const followsSymlinks = new Set(['write', 'append', 'chmod', 'truncate']);

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
          mountKernelOverlay(layerDirs(k), `${k}/upper`, `${k}/work`, mnt);
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
      { numRuns: RUNS, seed: propertySeed() },
    );
  }, 60_000 + RUNS * 100);
});
