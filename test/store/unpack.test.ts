/**
 * What a layer keeps once unpacked: owners, modes (set-id bits too), ns mtimes,
 * PAX xattrs, hard links, symlinks, devices, FIFOs; OCI whiteouts turned into
 * the kernel's format. Compared with the shared tree snapshot.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { getxattr } from '../../src/sys.js';
import { unpack } from '../../src/store/unpack.js';
import { snapshot } from '../helpers/tree.js';
import { tarOf, type TarEntry } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-unpack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

async function unpacked(entries: TarEntry[]) {
  const dir = join(tmp, String(n++));
  mkdirSync(dir);
  const result = await unpack([await tarOf(entries)], dir, { source: 'test.tar' });
  return { dir, result, snap: snapshot(dir, { since: 2n ** 62n }) };
}

const NS = { mtime: '1600000000.123456789' };

/** A tar whose one file carries a PAX xattr with bytes that are not UTF-8 (tar-stream cannot write those). */
async function binaryXattrTar(name: string, value: Buffer): Promise<Buffer> {
  const body = Buffer.concat([Buffer.from(` SCHILY.xattr.${name}=`), value, Buffer.from('\n')]);
  let len = body.length + 2;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  const record = Buffer.concat([Buffer.from(String(len)), body]);
  const pack = tar.pack();
  pack.entry({ name: 'PaxHeader/f', mtime: new Date(0) }, record);
  pack.entry({ name: 'f', mtime: new Date(0) }, 'data');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  const out = Buffer.concat(chunks);
  // Turn the first entry into a PAX header: typeflag 'x', then the header checksum again.
  out[156] = 0x78;
  out.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += out[i]!;
  out.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return out;
}

describe('unpack keeps metadata', () => {
  it('binary xattr values byte for byte (security.capability is a binary struct)', async () => {
    const value = Buffer.from([0x00, 0xff, 0x80, 0x01, 0xc3, 0x28, 0x0a]);
    const dir = join(tmp, String(n++));
    mkdirSync(dir);
    await unpack([await binaryXattrTar('user.bin', value)], dir, { source: 'bin.tar' });
    expect(getxattr(join(dir, 'f'), 'user.bin')).toEqual(value);
  });

  it('owners, modes, ns times, xattrs, links, devices, FIFOs', async () => {
    const { snap, dir, result } = await unpacked([
      { name: 'd/', mode: 0o750, uid: 1000, gid: 1001, pax: NS },
      { name: 'd/f', content: 'data', mode: 0o4755, uid: 1000, gid: 1001, pax: { ...NS, 'SCHILY.xattr.user.comment': 'hi there', 'SCHILY.xattr.trusted.overlay.redirect': '/x' } },
      { name: 'd/hard', type: 'link', linkname: 'd/f' },
      { name: 'd/link', type: 'symlink', linkname: '../nowhere', uid: 1000, gid: 1001, pax: NS },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
      { name: 'big', content: 'x', pax: { uid: '4000000', gid: '4000001', mtime: '1700000000.5' } },
    ]);
    expect(snap['d']).toMatchObject({ type: 'dir', mode: '750', uid: 1000, gid: 1001, mtime: '1600000000123456789' });
    expect(snap['d/f']).toMatchObject({ type: 'file', mode: '4755', uid: 1000, gid: 1001, nlink: 2, size: 4, mtime: '1600000000123456789' });
    // trusted.overlay.* from an archive is dropped: only whiteout markers may set overlay state.
    expect(snap['d/f']!.xattrs).toEqual({ 'user.comment': Buffer.from('hi there').toString('hex') });
    expect(statSync(join(dir, 'd/hard')).ino).toBe(statSync(join(dir, 'd/f')).ino);
    expect(snap['d/link']).toMatchObject({ type: 'symlink', target: '../nowhere', uid: 1000, mtime: '1600000000123456789' });
    expect(snap['dev/null']).toMatchObject({ type: 'chr', rdev: '1:3', mode: '666' });
    expect(snap['dev/loop0']).toMatchObject({ type: 'blk', rdev: '7:0', mode: '660' });
    expect(snap['run/fifo']).toMatchObject({ type: 'fifo', mode: '600' });
    expect(snap['big']).toMatchObject({ uid: 4000000, gid: 4000001, mtime: '1700000000500000000' });
    expect(result).toEqual({ unpackedSize: 5, entries: 8 });
  });

  it('OCI whiteouts become char 0:0, opaque markers the trusted.overlay.opaque xattr', async () => {
    const { snap } = await unpacked([
      { name: 'etc/' },
      { name: 'etc/.wh.passwd' },
      { name: '.wh.top' },
      { name: 'var/' },
      { name: 'var/cache/' },
      { name: 'var/cache/.wh..wh..opq' },
      { name: 'var/cache/fresh', content: 'new' },
      { name: '.wh..wh.plnk' },
      { name: 'implicit/.wh..wh..opq' },
    ]);
    expect(snap['etc/passwd']).toMatchObject({ type: 'chr', rdev: '0:0' });
    expect(snap['top']).toMatchObject({ type: 'chr', rdev: '0:0' });
    expect(snap['var/cache']!.xattrs).toEqual({ 'trusted.overlay.opaque': '79' });
    expect(snap['implicit']!.xattrs).toEqual({ 'trusted.overlay.opaque': '79' });
    expect(Object.keys(snap).filter((k) => k.includes('.wh.'))).toEqual([]);
    expect(snap['var/cache/fresh']).toMatchObject({ type: 'file' });
  });

  it('a later entry replaces an earlier one of the same path', async () => {
    const { snap } = await unpacked([
      { name: 'x', content: 'first' },
      { name: 'x', type: 'symlink', linkname: 'y' },
      { name: 'd/', mode: 0o700 },
      { name: 'd/inner', content: 'gone' },
      { name: 'd', content: 'now a file', mode: 0o640 },
      { name: 'e', content: 'file first' },
      { name: 'e/' },
    ]);
    expect(snap['x']).toMatchObject({ type: 'symlink', target: 'y' });
    expect(snap['d']).toMatchObject({ type: 'file', size: 10, mode: '640' });
    expect(snap['d/inner']).toBeUndefined();
    expect(snap['e']).toMatchObject({ type: 'dir' });
  });

  it('directory times survive the children written after them', async () => {
    const { snap } = await unpacked([{ name: 'a/', pax: NS }, { name: 'a/b/', pax: NS }, { name: 'a/b/c', content: 'c', pax: NS }]);
    expect(snap['a']!.mtime).toBe('1600000000123456789');
    expect(snap['a/b']!.mtime).toBe('1600000000123456789');
  });
});
