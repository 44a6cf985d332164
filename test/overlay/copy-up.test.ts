import { randomBytes } from 'node:crypto';
import { constants as fsc, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { getxattr, listxattr, lstat, setxattr, ST, type StatBuf } from '../../src/sys.js';
import { buildLayers, removeRoot, root, snapshotDir, tempRoot, scratchPerTest } from './tree.js';

/** A valid vfs_cap_data (revision 2, effective) granting CAP_NET_RAW. */
const capability = (() => {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000001, 0);
  b.writeUInt32LE(1 << 13, 4);
  return b;
})();

const meta = (st: StatBuf) => ({
  mode: st[ST.mode]!.toString(8), uid: st[ST.uid], gid: st[ST.gid],
  mtime: [st[ST.mtimeSec], st[ST.mtimeNsec]], atime: [st[ST.atimeSec], st[ST.atimeNsec]],
});

describe('copy-up', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  it('copies data, owner, mode, times to the ns and all xattrs, capability included', async () => {
    const fx = buildLayers(base, {
      lower: [{
        'p': { dir: true, mode: 0o2751, uid: 11, gid: 12, mtime: [1500000000, 111111111], xattrs: { 'user.dir': 'd', 'trusted.overlay.origin': 'internal' } },
        'p/f': { file: 'payload', mode: 0o4750, uid: 1234, gid: 5678, mtime: [1234567890, 987654321], xattrs: { 'user.a': '1', 'trusted.t': '2' } },
      }],
      upper: {},
    });
    setxattr(join(fx.lowers[0]!, 'p/f'), 'security.capability', capability);
    const lowerFile = lstat(join(fx.lowers[0]!, 'p/f'))!;
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });

    await ov.setxattr('/p/f', 'user.new', Buffer.from('n'), 0, root);

    const upFile = join(fx.upper, 'p/f');
    expect(meta(lstat(upFile)!)).toEqual(meta(lowerFile));
    expect(readFileSync(upFile, 'utf8')).toBe('payload');
    expect(listxattr(upFile).sort()).toEqual(['security.capability', 'trusted.overlay.origin', 'trusted.t', 'user.a', 'user.new']);
    expect(getxattr(upFile, 'security.capability')).toEqual(capability);
    // The parent was copied with its metadata (not its contents), minus overlay-internal xattrs,
    // and its times were put back after the child arrived.
    const upDir = join(fx.upper, 'p');
    const lowerDir = lstat(join(fx.lowers[0]!, 'p'))!; // now: listing it through the overlay may have moved its atime
    expect(meta(lstat(upDir)!)).toEqual(meta(lowerDir));
    // Its origin is its own (the lower's private one stays below), and it is impure: it holds a copy.
    expect(listxattr(upDir).sort()).toEqual(['trusted.overlay.impure', 'trusted.overlay.origin', 'user.dir']);
    expect(getxattr(upDir, 'trusted.overlay.origin')?.toString()).not.toBe('internal');
    expect(ov.getattr('/p')[ST.mtimeNsec]).toBe(111111111);
    expect(ov.getxattr('/p/f', 'user.new').toString()).toBe('n');
  });

  it('chown, chmod and utimens copy up and then apply', async () => {
    const fx = buildLayers(base, { lower: [{ f: { file: 'x', mode: 0o644, mtime: [10, 5] } }], upper: {} });
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    await ov.chown('/f', 42, 0xffffffff, root);
    await ov.chmod('/f', 0o600, root);
    await ov.utimens('/f', [1, 2], [3, 4], root);
    const st = ov.getattr('/f');
    expect(meta(st)).toEqual({ mode: '100600', uid: 42, gid: 0, mtime: [3, 4], atime: [1, 2] });
    expect(meta(lstat(join(fx.lowers[0]!, 'f'))!).mode).toBe('100644');
  });

  it('concurrent copy-ups of one file share one copy', async () => {
    const big = Buffer.alloc(8 << 20, 'abcdefgh');
    const fx = buildLayers(base, { lower: [{ f: 'placeholder' }], upper: {} });
    writeFileSync(join(fx.lowers[0]!, 'f'), big);
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    const fds = await Promise.all(Array.from({ length: 8 }, () => ov.open('/f', fsc.O_RDWR, root)));
    const inodes = new Set(fds.map((fd) => lstat(`/proc/self/fd/${fd}`) && readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/ino:\s*(\d+)/)?.[1]));
    fds.forEach((fd) => ov.release(fd));
    expect(inodes.size).toBe(1);
    expect(readFileSync(join(fx.upper, 'f')).equals(big)).toBe(true);
    expect(snapshotDir(join(fx.work, 'work'))).toEqual({});
  });

  it('a copy-up whose file is deleted meanwhile installs nothing', async () => {
    const fx = buildLayers(base, { lower: [{ 'd/f': 'placeholder' }], upper: {} });
    writeFileSync(join(fx.lowers[0]!, 'd/f'), Buffer.alloc(8 << 20, 'x'));
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    const opening = ov.open('/d/f', fsc.O_RDWR, root); // runs until the data copy starts
    await ov.unlink('/d/f', root);
    await expect(opening).rejects.toMatchObject({ code: 'ENOENT' });
    expect(snapshotDir(fx.upper)).toEqual({ d: 'dir', 'd/f': 'whiteout' });
    expect(snapshotDir(join(fx.work, 'work'))).toEqual({});
  });

  it('trusted.overlay.* set through the overlay is stored escaped, like kernel overlayfs', async () => {
    const fx = buildLayers(base, { lower: [{ f: 'x' }], upper: {} });
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    await ov.setxattr('/f', 'trusted.overlay.mine', Buffer.from('v'), 0, root);
    expect(getxattr(join(fx.upper, 'f'), 'trusted.overlay.overlay.mine')?.toString()).toBe('v');
    expect(ov.listxattr('/f')).toEqual(['trusted.overlay.mine']);
    expect(ov.getxattr('/f', 'trusted.overlay.mine').toString()).toBe('v');
    await expect(ov.setxattr('/f', 'user.layerfs.x', Buffer.from('v'), 0, root)).rejects.toMatchObject({ code: 'EPERM' });
  });
});

/**
 * The data path of copy-up (copyData in native/sys.c): synchronous up to 256 KiB,
 * on the thread pool above; copy_file_range within one filesystem, read/write
 * when the lower layer is on another one (tmpfs here: copy_file_range says EXDEV).
 */
describe('copy-up data', () => {
  const sizes = [0, 1, 4096, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024 + 17];
  const rows = [false, true].flatMap((tmpfs) => sizes.map((size) => ({ size, tmpfs, where: tmpfs ? 'tmpfs' : 'the same filesystem' })));
  const scratch = scratchPerTest();

  it.each(rows)('$size bytes from a lower layer on $where', async ({ size, tmpfs }) => {
    const data = randomBytes(size);
    const fx = buildLayers(scratch.base(), { lower: [{}], upper: {} });
    if (tmpfs) scratch.mountTmpfs(fx.lowers[0]!);
    writeFileSync(join(fx.lowers[0]!, 'f'), data);
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    const fd = await ov.open('/f', fsc.O_WRONLY, root);
    ov.release(fd);
    expect(readFileSync(join(fx.upper, 'f')).equals(data)).toBe(true);
    expect(readdirSync(join(fx.work, 'work'))).toEqual([]); // nothing left half-built
  });
});
