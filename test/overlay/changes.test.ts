/**
 * Changes through the overlay, as rows: the layers before, one operation, and
 * then what the overlay shows and what the upper layer holds (whiteouts as
 * char 0:0, opaque dirs by their xattr).
 */
import { constants as fsc, writeSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { S_IFIFO } from '../../src/sys.js';
import { buildLayers, removeRoot, root, snapshotDir, snapshotOverlay, tempRoot, type LayerSpecs, type Snapshot } from './tree.js';

interface Row {
  name: string;
  layers: LayerSpecs;
  op: (ov: Overlay) => Promise<unknown>;
  /** The error code the operation fails with (the layers must then be unchanged). */
  error?: string;
  merged?: Snapshot;
  upper?: Snapshot;
}

const write = async (ov: Overlay, path: string, text: string, flags = fsc.O_WRONLY | fsc.O_APPEND) => {
  const fd = await ov.open(path, flags, root);
  try {
    writeSync(fd, text);
  } finally {
    ov.release(fd);
  }
};

const rows: Row[] = [
  // ---- copy-up ----
  {
    name: 'open for write copies up the file and its parents',
    layers: { lower: [{ 'a/b/f': 'lower', 'a/b/g': 'g' }], upper: {} },
    op: (ov) => write(ov, '/a/b/f', '+more'),
    merged: { a: 'dir', 'a/b': 'dir', 'a/b/f': 'file:lower+more', 'a/b/g': 'file:g' },
    upper: { a: 'dir', 'a/b': 'dir', 'a/b/f': 'file:lower+more' },
  },
  {
    name: 'open read-only copies nothing',
    layers: { lower: [{ 'a/f': 'lower' }], upper: {} },
    op: async (ov) => ov.release(await ov.open('/a/f', fsc.O_RDONLY, root)),
    upper: {},
  },
  {
    name: 'O_TRUNC copies up and truncates',
    layers: { lower: [{ f: 'lower' }], upper: {} },
    op: (ov) => write(ov, '/f', 'new', fsc.O_WRONLY | fsc.O_TRUNC),
    merged: { f: 'file:new' },
    upper: { f: 'file:new' },
  },
  {
    name: 'truncate copies up',
    layers: { lower: [{ f: 'abcdef' }], upper: {} },
    op: (ov) => ov.truncate('/f', 3, root),
    upper: { f: 'file:abc' },
  },
  {
    name: 'symlinks, fifos and device nodes copy up too',
    layers: { lower: [{ l: { symlink: 'x/y' }, p: { fifo: true }, null: { chr: [1, 3] } }], upper: {} },
    op: async (ov) => {
      await ov.chown('/l', 5, 5, root);
      await ov.chmod('/p', 0o600, root);
      await ov.utimens('/null', [1, 0], [1, 0], root);
    },
    merged: { l: 'symlink:x/y', p: 'fifo', null: 'chr:259' },
    upper: { l: 'symlink:x/y', p: 'fifo', null: 'chr:259' },
  },
  {
    name: 'removexattr of an absent name is ENODATA and copies nothing',
    layers: { lower: [{ f: 'x' }], upper: {} },
    op: (ov) => ov.removexattr('/f', 'user.none', root),
    error: 'ENODATA',
  },
  // ---- new entries ----
  {
    name: 'create in a lower-only dir copies the dir up',
    layers: { lower: [{ 'd/old': 'o' }], upper: {} },
    op: async (ov) => ov.release(await ov.create('/d/new', 0o644, fsc.O_WRONLY, root)),
    merged: { d: 'dir', 'd/old': 'file:o', 'd/new': 'file:' },
    upper: { d: 'dir', 'd/new': 'file:' },
  },
  {
    name: 'create over an upper whiteout replaces it',
    layers: { lower: [{ f: 'old' }], upper: { f: { whiteout: 'char' } } },
    op: async (ov) => {
      await expect(ov.open('/f', fsc.O_WRONLY, root)).rejects.toMatchObject({ code: 'ENOENT' });
      const fd = await ov.create('/f', 0o644, fsc.O_WRONLY, root);
      writeSync(fd, 'new');
      ov.release(fd);
    },
    merged: { f: 'file:new' },
    upper: { f: 'file:new' },
  },
  {
    name: 'create of an existing name with O_EXCL is EEXIST',
    layers: { lower: [{ f: 'x' }], upper: {} },
    op: (ov) => ov.create('/f', 0o644, fsc.O_WRONLY | fsc.O_EXCL, root),
    error: 'EEXIST',
  },
  {
    name: 'names starting .wh. cannot be made',
    layers: { lower: [{}], upper: {} },
    op: (ov) => ov.mkdir('/.wh.x', 0o755, root),
    error: 'EINVAL',
  },
  {
    name: 'mkdir over a whiteout makes an opaque dir',
    layers: { lower: [{ 'd/old': 'o' }], upper: { d: { whiteout: 'char' } } },
    op: (ov) => ov.mkdir('/d', 0o755, root),
    merged: { d: 'dir' },
    upper: { d: 'dir opaque' },
  },
  {
    name: 'mkdir over a .wh. whiteout in upper makes an opaque dir and drops the .wh. file',
    layers: { lower: [{ 'd/old': 'o' }], upper: { d: { whiteout: 'file' } } },
    op: (ov) => ov.mkdir('/d', 0o755, root),
    merged: { d: 'dir' },
    upper: { d: 'dir opaque' },
  },
  {
    name: 'mkdir where only a lower whiteout was makes a plain dir',
    layers: { lower: [{ d: { whiteout: 'char' } }, { 'd/old': 'o' }], upper: {} },
    op: (ov) => ov.mkdir('/d', 0o755, root),
    merged: { d: 'dir' },
    upper: { d: 'dir' },
  },
  {
    name: 'mkdir of an existing name is EEXIST',
    layers: { lower: [{ 'd/x': 'x' }], upper: {} },
    op: (ov) => ov.mkdir('/d', 0o755, root),
    error: 'EEXIST',
  },
  {
    name: 'fuse-overlayfs #279: a symlink over a whiteout clears it',
    layers: { lower: [{ l: 'was a file' }], upper: {} },
    op: async (ov) => {
      await ov.unlink('/l', root);
      await ov.symlink('/target', '/l', root);
    },
    merged: { l: 'symlink:/target' },
    upper: { l: 'symlink:/target' },
  },
  {
    name: 'fuse-overlayfs #478: recreated nested opaque dirs do not show lower entries again',
    layers: { lower: [{ 'a/b/c/f': 'f', 'a/b/g': 'g', 'a/h': 'h' }], upper: {} },
    op: async (ov) => {
      await ov.unlink('/a/b/c/f', root);
      await ov.rmdir('/a/b/c', root);
      await ov.unlink('/a/b/g', root);
      await ov.rmdir('/a/b', root);
      await ov.unlink('/a/h', root);
      await ov.rmdir('/a', root);
      await ov.mkdir('/a', 0o755, root);
      await ov.mkdir('/a/b', 0o755, root);
      await ov.mkdir('/a/b/c', 0o755, root);
    },
    merged: { a: 'dir', 'a/b': 'dir', 'a/b/c': 'dir' },
    upper: { a: 'dir opaque', 'a/b': 'dir', 'a/b/c': 'dir' },
  },
  {
    name: 'mknod makes a fifo',
    layers: { lower: [{}], upper: {} },
    op: (ov) => ov.mknod('/p', S_IFIFO | 0o644, 0, root),
    upper: { p: 'fifo' },
  },
  {
    name: 'link copies the source up and hard-links it in upper',
    layers: { lower: [{ 'd/f': 'data' }], upper: {} },
    op: (ov) => ov.link('/d/f', '/g', root),
    merged: { d: 'dir', 'd/f': 'file:data', g: 'file:data' },
    upper: { d: 'dir', 'd/f': 'file:data', g: 'file:data' },
  },
  {
    name: 'link of a directory is EPERM',
    layers: { lower: [{ 'd/f': 'data' }], upper: {} },
    op: (ov) => ov.link('/d', '/e', root),
    error: 'EPERM',
  },
  // ---- removal ----
  {
    name: 'unlink of a lower file leaves a char 0:0 whiteout',
    layers: { lower: [{ 'd/f': 'x', 'd/g': 'y' }], upper: {} },
    op: (ov) => ov.unlink('/d/f', root),
    merged: { d: 'dir', 'd/g': 'file:y' },
    upper: { d: 'dir', 'd/f': 'whiteout' },
  },
  {
    name: 'unlink of an upper-only file just removes it',
    layers: { lower: [{}], upper: { f: 'x' } },
    op: (ov) => ov.unlink('/f', root),
    merged: {},
    upper: {},
  },
  {
    name: 'unlink of an upper file covering a lower one leaves a whiteout',
    layers: { lower: [{ f: 'low' }], upper: { f: 'up' } },
    op: (ov) => ov.unlink('/f', root),
    merged: {},
    upper: { f: 'whiteout' },
  },
  {
    name: 'unlink of a dir is EISDIR, of a missing name ENOENT',
    layers: { lower: [{ 'd/x': 'x' }], upper: {} },
    op: async (ov) => {
      await expect(ov.unlink('/nope', root)).rejects.toMatchObject({ code: 'ENOENT' });
      await ov.unlink('/d', root);
    },
    error: 'EISDIR',
  },
  {
    name: 'rmdir of a non-empty merged dir is ENOTEMPTY',
    layers: { lower: [{ 'd/x': 'x' }], upper: { 'd/y': 'y' } },
    op: (ov) => ov.rmdir('/d', root),
    error: 'ENOTEMPTY',
  },
  {
    name: 'rmdir of a merged dir emptied by whiteouts leaves one whiteout',
    layers: { lower: [{ 'd/x': 'x' }, { 'd/y': 'y' }], upper: { 'd/z': 'z' } },
    op: async (ov) => {
      for (const f of ['x', 'y', 'z']) await ov.unlink(`/d/${f}`, root);
      await ov.rmdir('/d', root);
    },
    merged: {},
    upper: { d: 'whiteout' },
  },
  {
    name: 'rmdir of an upper-only dir removes it',
    layers: { lower: [{}], upper: { 'd': { dir: true } } },
    op: (ov) => ov.rmdir('/d', root),
    merged: {},
    upper: {},
  },
  {
    name: 'rmdir of a file is ENOTDIR',
    layers: { lower: [{ f: 'x' }], upper: {} },
    op: (ov) => ov.rmdir('/f', root),
    error: 'ENOTDIR',
  },
  // ---- rename ----
  {
    name: 'rename of a lower file copies it up and whites out the source',
    layers: { lower: [{ 'a/f': 'data' }], upper: {} },
    op: (ov) => ov.rename('/a/f', '/g', root),
    merged: { a: 'dir', g: 'file:data' },
    upper: { a: 'dir', 'a/f': 'whiteout', g: 'file:data' },
  },
  {
    name: 'rename of a file over an existing lower file replaces it',
    layers: { lower: [{ f: 'f', g: 'g' }], upper: {} },
    op: (ov) => ov.rename('/f', '/g', root),
    merged: { g: 'file:f' },
    upper: { f: 'whiteout', g: 'file:f' },
  },
  {
    name: 'rename of an upper-only file onto a whiteout needs no whiteout at the source',
    layers: { lower: [{ g: 'old' }], upper: { f: 'new', g: { whiteout: 'char' } } },
    op: (ov) => ov.rename('/f', '/g', root),
    merged: { g: 'file:new' },
    upper: { g: 'file:new' },
  },
  {
    name: 'rename of a dir that exists in a lower layer is EXDEV',
    layers: { lower: [{ 'd/x': 'x' }], upper: { 'd/y': 'y' } },
    op: (ov) => ov.rename('/d', '/e', root),
    error: 'EXDEV',
  },
  {
    name: 'an upper-only dir moved into a merged dir becomes opaque (as the kernel does)',
    layers: { lower: [{ other: 'o' }], upper: { 'd/x': 'x' } },
    op: (ov) => ov.rename('/d', '/e', root),
    merged: { other: 'file:o', e: 'dir', 'e/x': 'file:x' },
    upper: { e: 'dir opaque', 'e/x': 'file:x' },
  },
  {
    name: 'an upper-only dir moved within an upper-only dir stays plain',
    layers: { lower: [{ other: 'o' }], upper: { 'p/d/x': 'x' } },
    op: (ov) => ov.rename('/p/d', '/p/e', root),
    merged: { other: 'file:o', p: 'dir', 'p/e': 'dir', 'p/e/x': 'file:x' },
    upper: { p: 'dir', 'p/e': 'dir', 'p/e/x': 'file:x' },
  },
  {
    name: 'an upper dir moved onto a whited-out lower dir becomes opaque',
    layers: { lower: [{ 'e/old': 'o' }], upper: { 'd/x': 'x', e: { whiteout: 'char' } } },
    op: (ov) => ov.rename('/d', '/e', root),
    merged: { e: 'dir', 'e/x': 'file:x' },
    upper: { e: 'dir opaque', 'e/x': 'file:x' },
  },
  {
    name: 'rename onto an empty merged dir replaces it and hides what was below',
    layers: { lower: [{ 'e/old': 'o' }], upper: { 'd/x': 'x' } },
    op: async (ov) => {
      await ov.unlink('/e/old', root);
      await ov.rename('/d', '/e', root);
    },
    merged: { e: 'dir', 'e/x': 'file:x' },
    upper: { e: 'dir opaque', 'e/x': 'file:x' },
  },
  {
    name: 'rename onto a non-empty dir is ENOTEMPTY',
    layers: { lower: [{ 'e/old': 'o' }], upper: { 'd/x': 'x' } },
    op: (ov) => ov.rename('/d', '/e', root),
    error: 'ENOTEMPTY',
  },
  {
    name: 'rename of a dir onto a file is ENOTDIR',
    layers: { lower: [{ f: 'f' }], upper: { 'd/x': 'x' } },
    op: (ov) => ov.rename('/d', '/f', root),
    error: 'ENOTDIR',
  },
  {
    name: 'rename of a file onto a dir is EISDIR',
    layers: { lower: [{ 'e/x': 'x' }], upper: { f: 'f' } },
    op: (ov) => ov.rename('/f', '/e', root),
    error: 'EISDIR',
  },
  {
    name: 'rename of a dir into itself is EINVAL',
    layers: { lower: [{}], upper: { 'd/x': 'x' } },
    op: (ov) => ov.rename('/d', '/d/y', root),
    error: 'EINVAL',
  },
  {
    name: 'rename of a missing name is ENOENT',
    layers: { lower: [{}], upper: {} },
    op: (ov) => ov.rename('/a', '/b', root),
    error: 'ENOENT',
  },
  {
    name: 'cached directory lookups follow a renamed and a removed directory',
    layers: { lower: [{ 'l/x': 'x' }], upper: { 'd/sub/f': 'f', 'r/s/t': 't' } },
    op: async (ov) => {
      ov.getattr('/d/sub/f');
      ov.getattr('/r/s/t');
      await ov.rename('/d', '/e', root);
      await expect(Promise.resolve().then(() => ov.getattr('/d/sub/f'))).rejects.toMatchObject({ code: 'ENOENT' });
      ov.getattr('/e/sub/f');
      await ov.unlink('/r/s/t', root);
      await ov.rmdir('/r/s', root);
      await ov.rmdir('/r', root);
      await ov.mkdir('/r', 0o755, root);
      await expect(Promise.resolve().then(() => ov.readdir('/r/s'))).rejects.toMatchObject({ code: 'ENOENT' });
    },
    merged: { e: 'dir', 'e/sub': 'dir', 'e/sub/f': 'file:f', l: 'dir', 'l/x': 'file:x', r: 'dir' },
  },
  {
    name: 'an upper-only dir moved away from a lower file leaves a whiteout',
    layers: { lower: [{ d: 'file below' }], upper: { 'd/x': 'x' } },
    op: (ov) => ov.rename('/d', '/e', root),
    merged: { e: 'dir', 'e/x': 'file:x' },
    upper: { d: 'whiteout', e: 'dir opaque', 'e/x': 'file:x' },
  },
];

describe('changes', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  it.each(rows)('$name', async (row) => {
    const fx = buildLayers(base, row.layers);
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    const upperBefore = snapshotDir(fx.upper);
    const lowersBefore = fx.lowers.map((l) => snapshotDir(l));
    if (row.error !== undefined) {
      await expect(row.op(ov)).rejects.toMatchObject({ code: row.error });
      expect(snapshotDir(fx.upper)).toEqual(upperBefore);
    } else {
      await row.op(ov);
    }
    if (row.merged !== undefined) expect(await snapshotOverlay(ov)).toEqual(row.merged);
    if (row.upper !== undefined) expect(snapshotDir(fx.upper)).toEqual(row.upper);
    expect(fx.lowers.map((l) => snapshotDir(l))).toEqual(lowersBefore);
    expect(snapshotDir(`${fx.work}/work`)).toEqual({}); // nothing left behind
  });
});
