import { closeSync, constants as fsc, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { getxattr, isWhiteoutStat, listxattr, lstat, ST, type StatBuf } from '../../src/sys.js';
import { buildLayers, readFd, removeRoot, root, tempRoot, type Fixture } from './tree.js';

const METACOPY = 'trusted.overlay.metacopy';
const DATA = 'x'.repeat(200_000);
const NO_ID = 0xffffffff;

const meta = (st: StatBuf) => ({
  mode: st[ST.mode]!.toString(8), uid: st[ST.uid], gid: st[ST.gid], size: st[ST.size],
  mtime: [st[ST.mtimeSec], st[ST.mtimeNsec]],
});

function overlay(fx: Fixture, metacopy = true): Overlay {
  return new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work, metacopy });
}

async function read(ov: Overlay, path: string): Promise<string> {
  const fd = await ov.open(path, fsc.O_RDONLY, root);
  try {
    return readFd(fd);
  } finally {
    ov.release(fd);
  }
}

/** Whether the upper file is a metacopy file: marked, sized like the data, holding no data blocks. */
function isMetacopyFile(real: string, size: number): boolean {
  const st = lstat(real)!;
  return getxattr(real, METACOPY) !== null && st[ST.size] === size && readFileSync(real).every((b) => b === 0);
}

type MetaChange = { name: string; change: (ov: Overlay) => Promise<void>; expect: (st: StatBuf) => void };

const metadataChanges: MetaChange[] = [
  { name: 'chmod', change: (ov) => ov.chmod('/d/f', 0o600, root), expect: (st) => expect(st[ST.mode]! & 0o7777).toBe(0o600) },
  { name: 'chown', change: (ov) => ov.chown('/d/f', 7, 8, root), expect: (st) => expect([st[ST.uid], st[ST.gid]]).toEqual([7, 8]) },
  { name: 'chown uid only', change: (ov) => ov.chown('/d/f', 9, NO_ID, root), expect: (st) => expect([st[ST.uid], st[ST.gid]]).toEqual([9, 0]) },
  { name: 'utimens', change: (ov) => ov.utimens('/d/f', [100, 1], [200, 2], root), expect: (st) => expect([st[ST.mtimeSec], st[ST.mtimeNsec]]).toEqual([200, 2]) },
  { name: 'setxattr', change: (ov) => ov.setxattr('/d/f', 'user.k', Buffer.from('v'), 0, root), expect: () => {} },
];

describe('metacopy=on: metadata-only copy-up', () => {
  let base: string;
  let fx: Fixture;
  beforeEach(() => {
    base = tempRoot();
    fx = buildLayers(base, {
      lower: [{ 'd/f': { file: DATA, mode: 0o644, mtime: [10, 5], xattrs: { 'user.lower': 'l' } }, 'd/g': 'other\n' }],
      upper: {},
    });
  });
  afterEach(() => removeRoot(base));

  it.each(metadataChanges)('$name leaves a metacopy upper file and reads the lower data', async (row) => {
    const ov = overlay(fx);
    await row.change(ov);
    const up = join(fx.upper, 'd/f');
    expect(isMetacopyFile(up, DATA.length)).toBe(true);
    expect(lstat(up)![ST.blocks]).toBeLessThan(lstat(join(fx.lowers[0]!, 'd/f'))![ST.blocks]!);
    const st = ov.getattr('/d/f');
    row.expect(st);
    expect(st[ST.size]).toBe(DATA.length);
    expect(st[ST.blocks]).toBe(lstat(join(fx.lowers[0]!, 'd/f'))![ST.blocks]); // the data's blocks, as the kernel shows
    expect(await read(ov, '/d/f')).toBe(DATA);
    expect(ov.listxattr('/d/f')).not.toContain(METACOPY);
    expect(ov.getxattr('/d/f', 'user.lower').toString()).toBe('l');
    // An fd on the data shows the metacopy file's metadata.
    const fd = await ov.open('/d/f', fsc.O_RDONLY, root);
    try {
      expect(meta(ov.fgetattr('/d/f', fd))).toEqual(meta(st));
    } finally {
      ov.release(fd);
    }
  });

  it.each(metadataChanges)('$name without metacopy copies the data (the default)', async (row) => {
    const ov = overlay(fx, false);
    await row.change(ov);
    const up = join(fx.upper, 'd/f');
    expect(getxattr(up, METACOPY)).toBeNull();
    expect(readFileSync(up, 'utf8')).toBe(DATA);
  });

  type DataChange = { name: string; change: (ov: Overlay) => Promise<void>; data: string };
  const dataChanges: DataChange[] = [
    {
      name: 'open for write', data: 'AB' + DATA.slice(2),
      change: async (ov) => {
        const fd = await ov.open('/d/f', fsc.O_WRONLY, root);
        writeSync(fd, 'AB', 0);
        closeSync(fd);
      },
    },
    {
      name: 'open with O_TRUNC', data: '',
      change: async (ov) => ov.release(await ov.open('/d/f', fsc.O_RDONLY | fsc.O_TRUNC, root)),
    },
    { name: 'truncate', data: DATA.slice(0, 10), change: (ov) => ov.truncate('/d/f', 10, root) },
    { name: 'hard link', data: DATA, change: (ov) => ov.link('/d/f', '/d/f2', root) },
  ];

  it.each(dataChanges)('$name completes the copy-up, keeping the metadata', async (row) => {
    const ov = overlay(fx);
    await ov.chmod('/d/f', 0o600, root);
    await ov.chown('/d/f', 7, 8, root);
    await ov.setxattr('/d/f', 'user.k', Buffer.from('v'), 0, root);
    await ov.utimens('/d/f', [100, 1], [200, 2], root);
    const before = meta(ov.getattr('/d/f'));
    await row.change(ov);
    const path = '/d/f';
    const real = join(fx.upper, path);
    expect(getxattr(real, METACOPY)).toBeNull();
    expect(readFileSync(real, 'utf8')).toBe(row.data);
    expect(await read(ov, path)).toBe(row.data);
    const after = meta(ov.getattr(path));
    expect({ ...after, size: 0, mtime: 0 }).toEqual({ ...before, size: 0, mtime: 0 });
    if (row.name === 'hard link') {
      expect(after).toEqual(before);
      expect(ov.getattr('/d/f2')[ST.nlink]).toBe(2);
    }
    // The metacopy file's origin stays with the full copy, so its lower inode number does.
    expect(listxattr(real).sort()).toEqual(['trusted.overlay.origin', 'user.k', 'user.lower']);
    expect(ov.lookup(path).stat[ST.ino]).toBe(lstat(join(fx.lowers[0]!, path))![ST.ino]);
  });

  it('rename of a metacopy file leaves a whiteout and moves a full copy', async () => {
    const ov = overlay(fx);
    await ov.chmod('/d/f', 0o600, root);
    await ov.rename('/d/f', '/d/moved', root);
    expect(isWhiteoutStat(lstat(join(fx.upper, 'd/f'))!)).toBe(true);
    expect(getxattr(join(fx.upper, 'd/moved'), METACOPY)).toBeNull();
    expect(await read(ov, '/d/moved')).toBe(DATA);
    expect(ov.getattr('/d/moved')[ST.mode]! & 0o7777).toBe(0o600);
  });

  it('unlink of a metacopy file leaves a whiteout', async () => {
    const ov = overlay(fx);
    await ov.chmod('/d/f', 0o600, root);
    await ov.unlink('/d/f', root);
    expect(isWhiteoutStat(lstat(join(fx.upper, 'd/f'))!)).toBe(true);
    expect(() => ov.getattr('/d/f')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('a remount (a new Overlay over the same dirs) reads the metacopy file right', async () => {
    const first = overlay(fx);
    await first.chmod('/d/f', 0o600, root);
    first.close();
    const again = overlay(fx);
    expect(ov2meta(again)).toEqual({ mode: (0o100600).toString(8), size: DATA.length });
    expect(await read(again, '/d/f')).toBe(DATA);
    await again.truncate('/d/f', 3, root);
    again.close();
    expect(await read(overlay(fx), '/d/f')).toBe('xxx');
  });

  it('the data comes from the first lower that is not metacopy itself', async () => {
    // A lower layer that was once an upper dir written with metacopy=on.
    const stack = buildLayers(join(base, 'stack'), {
      lower: [{ 'f': { file: '', mode: 0o600, xattrs: { [METACOPY]: '' } } }, { 'f': { file: 'bottom', mode: 0o644 } }],
      upper: {},
    });
    const ov = overlay(stack);
    expect(await read(ov, '/f')).toBe('bottom');
    expect(ov.getattr('/f')[ST.mode]! & 0o7777).toBe(0o600);
    await ov.chmod('/f', 0o640, root);
    expect(isMetacopyFile(join(stack.upper, 'f'), 6)).toBe(true);
    expect(await read(ov, '/f')).toBe('bottom');
    await ov.truncate('/f', 3, root);
    expect(readFileSync(join(stack.upper, 'f'), 'utf8')).toBe('bot');
  });

  it('reads a metacopy file the kernel renamed (an absolute trusted.overlay.redirect)', async () => {
    // As kernel overlayfs (metacopy=on, redirect_dir=on) leaves `chmod 600 d/f; mv d/f e/moved`.
    const kernelUpper = buildLayers(join(base, 'kernel'), {
      lower: [{ 'd/f': { file: 'data of f', mode: 0o644 }, 'e/': { dir: true } }],
      upper: {
        'd/f': { whiteout: 'char' },
        'e/moved': { file: '', mode: 0o600, xattrs: { [METACOPY]: '', 'trusted.overlay.redirect': '/d/f' } },
      },
    });
    truncateSync(join(kernelUpper.upper, 'e/moved'), 9); // sparse, with the data's size
    const ov = overlay(kernelUpper);
    expect(await read(ov, '/e/moved')).toBe('data of f');
    expect(ov.getattr('/e/moved')[ST.mode]! & 0o7777).toBe(0o600);
    expect(() => ov.getattr('/d/f')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    await ov.truncate('/e/moved', 4, root);
    expect(listxattr(join(kernelUpper.upper, 'e/moved'))).toEqual([]);
    expect(await read(ov, '/e/moved')).toBe('data');
  });

  it('without metacopy=on a metacopy xattr is not followed', async () => {
    const stack = buildLayers(join(base, 'stack'), {
      lower: [{ 'f': { file: '', xattrs: { [METACOPY]: '' } } }, { 'f': 'bottom' }],
    });
    expect(await read(new Overlay({ lowerdirs: stack.lowers }), '/f')).toBe('');
  });

  it('directories, symlinks and special files still copy up whole', async () => {
    const other = buildLayers(join(base, 'other'), { lower: [{ 'dir/x': 'x', 'ln': { symlink: 'dir/x' }, 'p': { fifo: true } }], upper: {} });
    const ov = overlay(other);
    await ov.chmod('/dir', 0o700, root);
    await ov.chown('/ln', 3, 3, root);
    await ov.chmod('/p', 0o600, root);
    for (const name of ['dir', 'ln', 'p']) expect(getxattr(join(other.upper, name), METACOPY)).toBeNull();
    expect(ov.readlink('/ln')).toBe('dir/x');
  });
});

function ov2meta(ov: Overlay) {
  const st = ov.getattr('/d/f');
  return { mode: st[ST.mode]!.toString(8), size: st[ST.size] };
}
