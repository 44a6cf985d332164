/**
 * packTree writes xattrs as PAX records byte for byte (binary values such as
 * security.capability, UTF-8 text), long names included, and the store's
 * unpack reads them back exactly; GNU tar reads the same archive.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { packTree } from '../../src/runtime/tree-tar.js';
import { unpack } from '../../src/store/unpack.js';
import { getxattr, setxattr } from '../../src/sys.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-tree-tar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const BINARY = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x3d, 0x20, 0xc3]);
const LONG = `${'d'.repeat(60)}/${'é'.repeat(40)}`;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('packTree', () => {
  it('round-trips binary and UTF-8 xattrs through unpack, long names too', async () => {
    const src = join(tmp, 'src');
    mkdirSync(join(src, 'bin'), { recursive: true });
    mkdirSync(join(src, LONG.split('/')[0]!));
    writeFileSync(join(src, 'bin/ping'), 'ping\n');
    writeFileSync(join(src, LONG), 'long\n');
    symlinkSync('ping', join(src, 'bin/link'));
    setxattr(join(src, 'bin/ping'), 'security.capability', CAPABILITY);
    setxattr(join(src, 'bin/ping'), 'user.text', Buffer.from('héllo'));
    setxattr(join(src, LONG), 'user.bin', BINARY);
    setxattr(join(src, 'bin'), 'user.dir', BINARY);

    const bytes = await bytesOf(packTree(src, { layer: false }));
    const dst = join(tmp, 'dst');
    mkdirSync(dst);
    await unpack([bytes], dst, { source: 'tree.tar' });
    expect(getxattr(join(dst, 'bin/ping'), 'security.capability')).toEqual(CAPABILITY);
    expect(getxattr(join(dst, 'bin/ping'), 'user.text')).toEqual(Buffer.from('héllo'));
    expect(getxattr(join(dst, LONG), 'user.bin')).toEqual(BINARY);
    expect(getxattr(join(dst, 'bin'), 'user.dir')).toEqual(BINARY);

    const file = join(tmp, 'tree.tar');
    writeFileSync(file, bytes);
    const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(names).toEqual(['bin/', 'bin/link', 'bin/ping', `${LONG.split('/')[0]}/`, LONG].sort());
  });
});
