import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { ST } from '../../src/sys.js';
import { buildLayers, removeRoot, snapshotOverlay, tempRoot, type LayerSpecs, type Snapshot } from './tree.js';

interface Row {
  name: string;
  layers: LayerSpecs;
  merged: Snapshot;
  /** Paths that must not resolve, with the error code. */
  missing?: Record<string, string>;
}

const rows: Row[] = [
  {
    name: 'merges layers, upper wins, de-duplicates',
    layers: { lower: [{ 'a': 'L1', 'd/x': 'L1x' }, { 'a': 'L2', 'b': 'L2', 'd/y': 'L2y', 'd/x': 'L2x' }], upper: { 'a': 'U', 'd/z': 'Uz' } },
    merged: { a: 'file:U', b: 'file:L2', d: 'dir', 'd/x': 'file:L1x', 'd/y': 'file:L2y', 'd/z': 'file:Uz' },
  },
  {
    name: 'char 0:0 whiteout in upper hides lower entries',
    layers: { lower: [{ 'f': 'x', 'd/g': 'y', 'k': 'k' }], upper: { 'f': { whiteout: 'char' }, 'd': { whiteout: 'char' } } },
    merged: { k: 'file:k' },
    missing: { '/f': 'ENOENT', '/d': 'ENOENT', '/d/g': 'ENOENT' },
  },
  {
    name: '.wh. whiteout file in a lower layer hides layers below it, never its own layer',
    layers: { lower: [{ 'f': { whiteout: 'file' }, 'g': 'mine', '.wh.g': '' }, { 'f': 'gone', 'g': 'below', 'h': 'h' }] },
    merged: { g: 'file:mine', h: 'file:h' },
    missing: { '/f': 'ENOENT', '/.wh.f': 'ENOENT' },
  },
  {
    name: 'opaque xattr on an upper dir hides lower children',
    layers: { lower: [{ 'd/old': 'o' }], upper: { 'd': { dir: true, opaque: 'xattr' }, 'd/new': 'n' } },
    merged: { d: 'dir', 'd/new': 'file:n' },
    missing: { '/d/old': 'ENOENT' },
  },
  {
    name: '.wh..wh..opq marks a lower dir opaque',
    layers: { lower: [{ 'd': { dir: true, opaque: 'file' }, 'd/mid': 'm' }, { 'd/low': 'l' }] },
    merged: { d: 'dir', 'd/mid': 'file:m' },
    missing: { '/d/low': 'ENOENT', '/d/.wh..wh..opq': 'ENOENT' },
  },
  {
    name: 'a non-dir in a higher layer hides a lower dir and its descendants',
    layers: { lower: [{ 'd': 'file now' }, { 'd/x/y': 'deep' }] },
    merged: { d: 'file:file now' },
    missing: { '/d/x': 'ENOTDIR', '/d/x/y': 'ENOTDIR' },
  },
  {
    name: 'a whited-out parent cuts off lower layers for its descendants',
    layers: { lower: [{ 'p': { whiteout: 'char' } }, { 'p/q/r': 'r' }], upper: {} },
    merged: {},
    missing: { '/p': 'ENOENT', '/p/q': 'ENOENT', '/p/q/r': 'ENOENT' },
  },
  {
    name: 'a re-created parent does not reach past the whiteout below it',
    layers: { lower: [{ 'p/new': 'n' }, { 'p': { whiteout: 'char' } }, { 'p/old': 'o' }] },
    merged: { p: 'dir', 'p/new': 'file:n' },
    missing: { '/p/old': 'ENOENT' },
  },
  {
    name: 'a dir above a lower file does not merge with it',
    layers: { lower: [{ 'd/a': 'a' }, { 'd': 'file' }, { 'd/b': 'b' }] },
    merged: { d: 'dir', 'd/a': 'file:a' },
  },
  {
    name: 'symlinks and fifos show through',
    layers: { lower: [{ 'l': { symlink: '../target' }, 'p': { fifo: true } }] },
    merged: { l: 'symlink:../target', p: 'fifo' },
  },
];

describe('lookup and readdir', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  it.each(rows)('$name', async (row) => {
    const fx = buildLayers(base, row.layers);
    const ov = new Overlay({ lowerdirs: fx.lowers, ...(row.layers.upper ? { upperdir: fx.upper, workdir: fx.work } : {}) });
    expect(await snapshotOverlay(ov)).toEqual(row.merged);
    for (const [path, code] of Object.entries(row.missing ?? {})) {
      expect(() => ov.getattr(path), path).toThrow(expect.objectContaining({ code }));
    }
  });
});

describe('directory metadata', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  it('comes from the topmost copy, with nlink 1 when merged', () => {
    const fx = buildLayers(base, {
      lower: [{ 'd': { dir: true, mode: 0o750, mtime: [1000, 123456789], uid: 7 }, 'd/s1': { dir: true } }, { 'd': { dir: true, mode: 0o700, mtime: [5, 0] }, 'd/s2': { dir: true } }],
    });
    const ov = new Overlay({ lowerdirs: fx.lowers });
    const st = ov.getattr('/d');
    expect(st[ST.mode]! & 0o7777).toBe(0o750);
    expect([st[ST.mtimeSec], st[ST.mtimeNsec], st[ST.uid], st[ST.nlink]]).toEqual([1000, 123456789, 7, 1]);
    expect(ov.getattr('/d/s1')[ST.nlink]).toBe(2); // not merged: the real count
  });

  it('an opaque dir is not merged and keeps its real nlink', () => {
    const fx = buildLayers(base, { lower: [{ 'd': { dir: true, opaque: 'xattr' }, 'd/s': { dir: true } }, { 'd/t': 't' }] });
    const ov = new Overlay({ lowerdirs: fx.lowers });
    expect(ov.getattr('/d')[ST.nlink]).toBe(3);
    expect(ov.readdir('/').stats[0]![ST.nlink]).toBe(3);
  });

  it('hides internal xattrs, shows the rest', () => {
    const fx = buildLayers(base, {
      lower: [{ 'd': { dir: true, opaque: 'xattr', xattrs: { 'user.keep': 'k', 'user.layerfs.uid': '5', 'trusted.overlay.origin': 'x' } } }],
    });
    const ov = new Overlay({ lowerdirs: fx.lowers });
    expect(ov.listxattr('/d').sort()).toEqual(['user.keep']);
    expect(ov.getxattr('/d', 'user.keep').toString()).toBe('k');
    for (const name of ['trusted.overlay.opaque', 'user.layerfs.uid', 'user.absent']) {
      expect(() => ov.getxattr('/d', name), name).toThrow(expect.objectContaining({ code: 'ENODATA' }));
    }
  });

  it('readdir of a file is ENOTDIR, readlink of a file EINVAL, bad paths EINVAL', () => {
    const fx = buildLayers(base, { lower: [{ f: 'x' }] });
    const ov = new Overlay({ lowerdirs: fx.lowers });
    expect(() => ov.readdir('/f')).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(() => ov.readlink('/f')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => ov.getattr('/../etc')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(ov.statfs('/').bsize).toBeGreaterThan(0);
  });
});

/**
 * The resolver caches where a path was found, never its stat: every answer
 * lstats the real entry again, so metadata changed in place is seen at once,
 * and an entry that is no longer what was cached (gone, or another type)
 * makes the path resolve afresh. (Layers changed behind a mount are not
 * supported, as with kernel overlayfs; this is the safety net.)
 */
describe('cached places', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  const show = (st: Float64Array) => ({ dir: (st[ST.mode]! & 0o170000) === 0o040000, mode: st[ST.mode]! & 0o7777, size: st[ST.size] });
  const changes = [
    { change: 'has its mode changed in place', act: (f: string) => chmodSync(f, 0o600), seen: { dir: false, mode: 0o600, size: 1 } },
    { change: 'is replaced by a directory', act: (f: string) => { rmSync(f); mkdirSync(f, 0o700); }, seen: { dir: true, mode: 0o700, size: expect.any(Number) } },
    // A fresh lookup then finds the file in the layer below.
    { change: 'is removed', act: (f: string) => rmSync(f), seen: { dir: false, mode: 0o644, size: 5 } },
  ];
  it.each(changes)('a lower file that $change is seen so at the next lookup', ({ act, seen }) => {
    const fx = buildLayers(base, { lower: [{ f: 'x' }, { f: 'below' }] });
    const ov = new Overlay({ lowerdirs: fx.lowers });
    expect(show(ov.getattr('/f'))).toEqual({ dir: false, mode: 0o644, size: 1 }); // now cached
    act(join(fx.lowers[0]!, 'f'));
    expect(show(ov.getattr('/f'))).toEqual(seen);
  });
});
