/**
 * Names of NAME_MAX (255) bytes, ASCII and multi-byte UTF-8, in a lower layer
 * and in the upper layer: every operation must work as on kernel overlayfs,
 * which runs each row too, over the same layers. A 256-byte name is
 * ENAMETOOLONG. Regression: the `.wh.NAME` whiteout-file probe was itself over
 * NAME_MAX, so every operation on a 252-255 byte name failed with ENAMETOOLONG.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { metadataOf, mountKernelOverlay, onKernel, onOverlay, type Op, outcome } from './ops.js';
import { buildTree, removeRoot, snapshotDir, snapshotOverlay, tempRoot, type TreeSpec } from './tree.js';

/** A name of exactly `bytes` UTF-8 bytes starting with `tag`: ASCII, or mixing 2-, 3- and 4-byte characters. */
function nameOf(tag: string, bytes: number, utf8: boolean): string {
  let name = tag;
  const pieces = utf8 ? ['é', '€', '😀'] : ['x'];
  for (let i = 0; Buffer.byteLength(name) < bytes; i++) {
    const piece = pieces[i % pieces.length]!;
    name += Buffer.byteLength(name + piece) <= bytes ? piece : 'x';
  }
  return name;
}

interface Row {
  name: string;
  /** Where the existing entries (file F, directory D) are. */
  where: 'lower' | 'upper';
  ops: Op[];
  /** The outcome of each op (the kernel's must be the same). */
  expected: string[];
}

function rows(utf8: boolean): Row[] {
  const F = '/s/' + nameOf('f', 255, utf8);
  const D = '/s/' + nameOf('d', 255, utf8);
  const N = '/s/' + nameOf('n', 255, utf8);
  const L = '/s/' + nameOf('l', 256, utf8);
  const ok = (...ops: Op[]) => ({ ops, expected: ops.map(() => 'ok') });
  const tooLong = (op: Op) => ({ ops: [op], expected: ['ENAMETOOLONG'] });
  const perOp: Array<{ name: string; ops: Op[]; expected: string[] }> = [
    { name: 'getattr', ...ok({ op: 'getattr', path: F }, { op: 'getattr', path: D }) },
    { name: 'readdir', ...ok({ op: 'readdir', path: '/s' }, { op: 'readdir', path: D }) },
    { name: 'create', ...ok({ op: 'create', path: N }) },
    { name: 'write (copy-up)', ...ok({ op: 'append', path: F, data: '+' }) },
    { name: 'mkdir', ...ok({ op: 'mkdir', path: N }) },
    { name: 'mknod (fifo)', ...ok({ op: 'mkfifo', path: N }) },
    { name: 'symlink', ...ok({ op: 'symlink', path: N, target: 'target' }) },
    { name: 'link', ...ok({ op: 'link', path: F, to: N }) },
    { name: 'rename a file, both names 255 bytes', ...ok({ op: 'rename', path: F, to: N }) },
    { name: 'rename a file onto another', ...ok({ op: 'rename', path: '/s/short', to: F }, { op: 'rename', path: F, to: '/s/short' }) },
    { name: 'chmod', ...ok({ op: 'chmod', path: F }) },
    { name: 'chown', ...ok({ op: 'chown', path: F }) },
    { name: 'truncate', ...ok({ op: 'truncate', path: F, size: 2 }) },
    { name: 'unlink', ...ok({ op: 'unlink', path: F }) },
    { name: 'rmdir', ...ok({ op: 'unlink', path: D + '/in' }, { op: 'rmdir', path: D }) },
    { name: 'unlink, then create over the whiteout', ...ok({ op: 'unlink', path: F }, { op: 'create', path: F }) },
    { name: 'rmdir, then mkdir over the whiteout', ...ok(
      { op: 'unlink', path: D + '/in' }, { op: 'rmdir', path: D }, { op: 'mkdir', path: D }, { op: 'create', path: D + '/x' },
    ) },
    { name: 'rename onto a whiteout', ...ok({ op: 'unlink', path: F }, { op: 'rename', path: '/s/short', to: F }) },
    { name: '256 bytes: getattr', ...tooLong({ op: 'getattr', path: L }) },
    { name: '256 bytes: create', ...tooLong({ op: 'create', path: L }) },
    { name: '256 bytes: mkdir', ...tooLong({ op: 'mkdir', path: L }) },
    { name: '256 bytes: mknod', ...tooLong({ op: 'mkfifo', path: L }) },
    { name: '256 bytes: symlink', ...tooLong({ op: 'symlink', path: L, target: 't' }) },
    { name: '256 bytes: link to', ...tooLong({ op: 'link', path: F, to: L }) },
    { name: '256 bytes: rename to', ...tooLong({ op: 'rename', path: F, to: L }) },
    { name: '256 bytes: rename from', ...tooLong({ op: 'rename', path: L, to: N }) },
    { name: '256 bytes: chmod', ...tooLong({ op: 'chmod', path: L }) },
    { name: '256 bytes: unlink', ...tooLong({ op: 'unlink', path: L }) },
    { name: '256 bytes: rmdir', ...tooLong({ op: 'rmdir', path: L }) },
  ];
  const out: Row[] = [];
  for (const where of ['lower', 'upper'] as const) {
    for (const r of perOp) out.push({ ...r, name: `${utf8 ? 'UTF-8' : 'ASCII'} ${where}: ${r.name}`, where });
  }
  return out;
}

/** The layers of a row: F, D (holding one file) and 'short' in the lower layer or the upper one. */
function layersOf(r: Row, F: string, D: string): { lower: TreeSpec; upper: TreeSpec } {
  const entries: TreeSpec = { [F.slice(1)]: 'data', [D.slice(1) + '/in']: 'in', 's/short': 'short' };
  return r.where === 'lower' ? { lower: entries, upper: {} } : { lower: { 's/other': 'o' }, upper: entries };
}

describe('255-byte names, as on kernel overlayfs', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  for (const utf8 of [false, true]) {
    it.each(rows(utf8))('$name', async (r) => {
      const F = '/s/' + nameOf('f', 255, utf8);
      const D = '/s/' + nameOf('d', 255, utf8);
      const layers = layersOf(r, F, D);
      const k = join(base, 'k');
      const o = join(base, 'o');
      for (const side of [k, o]) {
        buildTree(join(side, 'lower'), layers.lower);
        buildTree(join(side, 'upper'), layers.upper);
        mkdirSync(join(side, 'work'));
      }
      const mnt = join(k, 'merged');
      mkdirSync(mnt);
      mountKernelOverlay([`${k}/lower`], `${k}/upper`, `${k}/work`, mnt);
      try {
        const ov = new Overlay({ lowerdirs: [join(o, 'lower')], upperdir: join(o, 'upper'), workdir: join(o, 'work') });
        const kernel: string[] = [];
        const ours: string[] = [];
        for (const op of r.ops) {
          kernel.push(await outcome(() => onKernel(mnt, op)));
          ours.push(await outcome(() => onOverlay(ov, op)));
        }
        expect(kernel, 'kernel overlayfs').toEqual(r.expected);
        expect(ours).toEqual(r.expected);
        const view = snapshotDir(mnt, true);
        expect(await snapshotOverlay(ov)).toEqual(view);
        expect(metadataOf(ov, Object.keys(view))).toEqual(metadataOf(mnt, Object.keys(view)));
      } finally {
        execFileSync('umount', [mnt]);
      }
      expect(snapshotDir(join(o, 'upper'))).toEqual(snapshotDir(join(k, 'upper')));
    });
  }
});
