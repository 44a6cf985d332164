import { linkSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatOrigin, parseOrigin } from '../../src/overlay/origin.js';
import { Overlay } from '../../src/overlay/overlay.js';
import { getxattr, lstat, nameToHandle, setxattr, ST } from '../../src/sys.js';
import { buildLayers, removeRoot, root, scratchPerTest, tempRoot } from './tree.js';

/** What kernel overlayfs 6.18 wrote on ext4 (null fs uuid): u32 inode 2146385, u32 generation. */
const KERNEL = Buffer.from('00fb1d00010000000000000000000000000000000051c02000f893e49f', 'hex');

describe('the origin format (struct ovl_fb)', () => {
  it("parses the kernel's value", () => {
    const o = parseOrigin(KERNEL)!;
    expect(o.uuid).toEqual(Buffer.alloc(16));
    expect(o.handle.type).toBe(1); // FILEID_INO32_GEN
    expect(o.handle.bytes.readUInt32LE(0)).toBe(2146385);
  });

  it('formats what it parses', () => {
    const o = parseOrigin(KERNEL)!;
    expect(formatOrigin(o.handle, o.uuid)).toEqual(KERNEL);
  });

  const bad: Array<[string, Buffer]> = [
    ['empty (origin unknown)', Buffer.alloc(0)],
    ['short', KERNEL.subarray(0, 20)],
    ['a length beyond the value', Buffer.concat([KERNEL.subarray(0, 2), Buffer.from([0x40]), KERNEL.subarray(3)])],
    ['another magic', Buffer.concat([Buffer.from([0, 0xfa]), KERNEL.subarray(2)])],
    ['a newer version', Buffer.concat([Buffer.from([1]), KERNEL.subarray(1)])],
    ['unknown flags', Buffer.concat([KERNEL.subarray(0, 3), Buffer.from([8]), KERNEL.subarray(4)])],
    ['the other byte order', Buffer.concat([KERNEL.subarray(0, 3), Buffer.from([1]), KERNEL.subarray(4)])],
  ];
  it.each(bad)('names no origin when %s', (_name, value) => {
    expect(parseOrigin(value)).toBeNull();
  });
});

describe('inode numbers from origins (no mount)', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  const ino = (p: string) => lstat(p)![ST.ino]!;

  it('a copy shows its lower number in this overlay and in the next one', async () => {
    const fx = buildLayers(base, { lower: [{ 'd/f': { file: 'x' } }], upper: {} });
    let ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    await ov.chmod('/d/f', 0o600, root);
    const lowerF = join(fx.lowers[0]!, 'd/f');
    expect(parseOrigin(getxattr(join(fx.upper, 'd/f'), 'trusted.overlay.origin')!)!.handle).toEqual(nameToHandle(lowerF));
    expect(ov.lookup('/d/f').stat[ST.ino]).toBe(ino(lowerF));
    ov.close();
    ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    expect(ov.lookup('/d/f').stat[ST.ino]).toBe(ino(lowerF));
    expect(ov.lookup('/d').stat[ST.ino]).toBe(ino(join(fx.lowers[0]!, 'd')));
    const listed = ov.readdir('/d');
    expect(listed.stats[listed.names.indexOf('f')]![ST.ino]).toBe(ino(lowerF));
    ov.close();
  });

  const rows: Array<{ name: string; change: (upper: string, lower: string) => void; shows: 'lower' | 'upper' }> = [
    { name: 'moved in the upper layer', change: (u) => renameSync(join(u, 'd/f'), join(u, 'g')), shows: 'lower' },
    { name: 'whose lower file got another link', change: (_u, l) => linkSync(join(l, 'd/f'), join(l, 'f2')), shows: 'upper' },
    { name: 'whose origin is empty (unknown)', change: (u) => setxattr(join(u, 'd/f'), 'trusted.overlay.origin', Buffer.alloc(0)), shows: 'upper' },
    { name: 'whose origin is garbage', change: (u) => setxattr(join(u, 'd/f'), 'trusted.overlay.origin', Buffer.from('junk')), shows: 'upper' },
    {
      // The kernel logs "invalid origin" and shows the upper number.
      name: 'whose origin is a directory',
      change: (u, l) => setxattr(join(u, 'd/f'), 'trusted.overlay.origin', formatOrigin(nameToHandle(join(l, 'd')), Buffer.alloc(16))),
      shows: 'upper',
    },
  ];
  it.each(rows)('a copy $name shows its $shows number after a remount', async (row) => {
    const fx = buildLayers(base, { lower: [{ 'd/f': { file: 'x' } }], upper: {} });
    let ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    await ov.chmod('/d/f', 0o600, root);
    ov.close();
    const lowerIno = ino(join(fx.lowers[0]!, 'd/f'));
    row.change(fx.upper, fx.lowers[0]!);
    const path = row.name.startsWith('moved') ? '/g' : '/d/f';
    const upperIno = ino(join(fx.upper, path));
    ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    expect(ov.lookup(path).stat[ST.ino]).toBe(row.shows === 'lower' ? lowerIno : upperIno);
    ov.close();
  });
});

describe('origins in the layers below the top one, and on another filesystem', () => {
  const scratch = scratchPerTest();
  const ino = (p: string) => lstat(p)![ST.ino]!;

  it('a file from the second lower layer keeps its number after a remount', async () => {
    const fx = buildLayers(scratch.base(), { lower: [{ 'd/x': { file: '1' } }, { 'd/f': { file: '2' } }], upper: {} });
    let ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    await ov.chmod('/d/f', 0o600, root);
    ov.close();
    ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    expect(ov.lookup('/d/f').stat[ST.ino]).toBe(ino(join(fx.lowers[1]!, 'd/f')));
    expect(ov.lookup('/d').stat[ST.ino]).toBe(ino(join(fx.lowers[0]!, 'd'))); // the first lower copy's
    ov.close();
  });

  // The kernel (xino=off) shows a merged directory's lower number only when all layers are on one filesystem
  // (otherwise a number of its own, new each mount); a file's origin number always, with the lower
  // filesystem's st_dev, which a FUSE mount cannot show.
  it('with a lower layer on tmpfs, a file shows its origin number, a merged directory its own', async () => {
    const fx = buildLayers(scratch.base(), { lower: [{}], upper: {} });
    const lowerMount = fx.lowers[0]!;
    scratch.mountTmpfs(lowerMount);
    mkdirSync(join(lowerMount, 'd'));
    writeFileSync(join(lowerMount, 'd/f'), 'x');
    let ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    await ov.chmod('/d/f', 0o600, root);
    ov.close();
    ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    expect(ov.lookup('/d/f').stat[ST.ino]).toBe(ino(join(lowerMount, 'd/f')));
    expect(ov.lookup('/d').stat[ST.ino]).toBe(ino(join(fx.upper, 'd')));
    ov.close();
  });
});
