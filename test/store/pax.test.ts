/**
 * PAX records read from the raw tar bytes (src/store/pax.ts), so binary xattr
 * values survive, without patching tar-stream. The tap must agree with
 * tar-stream on where every entry's data starts (header.byteOffset).
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { decodePaxRecords, encodePaxRecords, PaxTap } from '../../src/store/pax.js';

const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const NOT_UTF8 = Buffer.from([0x00, 0xff, 0x80, 0x01, 0xc3, 0x28, 0x0a, 0x3d, 0x20]);

interface Raw {
  name: string;
  type?: tar.Header['type'] | 'pax-header' | 'pax-global-header';
  body?: Buffer | string;
  pax?: Record<string, string>;
}

/** tar-stream writes no PAX header with a body of ours: such entries go in as files named MARK+typeflag, then are retyped. */
const MARK = '@@typeflag-';

function retype(out: Buffer): Buffer {
  for (let at = 0; at + 512 <= out.length; ) {
    const h = out.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    if (name.startsWith(MARK)) {
      h[156] = name.charCodeAt(MARK.length);
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += h[i]!;
      h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    }
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

async function tarOf(entries: Raw[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const raw = e.type === 'pax-header' || e.type === 'pax-global-header';
    const name = raw ? `${MARK}${e.type === 'pax-header' ? 'x' : 'g'}` : e.name;
    const header = { name, type: (raw ? 'file' : e.type ?? 'file') as tar.Header['type'], mtime: new Date(0), pax: e.pax };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.body === undefined) pack.entry(header, done);
      else pack.entry(header, e.body, done);
    });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return retype(Buffer.concat(chunks));
}

/** Runs tar-stream and the tap over the same bytes (fed `step` bytes at a time): each entry's name and xattrs. */
async function read(bytes: Buffer, step = bytes.length): Promise<Array<{ name: string; xattrs: Record<string, string> }>> {
  const tap = new PaxTap();
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += step) chunks.push(bytes.subarray(i, i + step));
  for (const c of chunks) tap.push(c);
  const ex = tar.extract();
  Readable.from(chunks).pipe(ex);
  const out = [];
  for await (const entry of ex) {
    const at = (entry.header as tar.Header & { byteOffset: number }).byteOffset;
    out.push({ name: entry.header.name, xattrs: Object.fromEntries(tap.xattrsAt(at).map(([k, v]) => [k, v.toString('hex')])) });
    entry.resume();
  }
  return out;
}

const paxHeader = (records: Array<[string, Buffer | string]>, name = 'PaxHeader'): Raw => ({ name, type: 'pax-header', body: encodePaxRecords(records) });

describe('PAX records', () => {
  it('encode and decode byte for byte, lengths included', () => {
    const records: Array<[string, Buffer]> = [['SCHILY.xattr.security.capability', CAPABILITY], ['SCHILY.xattr.user.x', NOT_UTF8], ['path', Buffer.from('é/'.repeat(60))]];
    const bytes = encodePaxRecords(records);
    expect(decodePaxRecords(bytes)).toEqual(records);
    // Each record starts with its own length in bytes, the digits included: 98 + 2 digits would be 100, so it is 101.
    const crossing = encodePaxRecords([['k', 'x'.repeat(94)]]);
    expect([crossing.length, crossing.subarray(0, 4).toString()]).toEqual([101, '101 ']);
  });

  it('a malformed tail ends the list', () => {
    expect(decodePaxRecords(Buffer.from('x a=b\n'))).toEqual([]);
    expect(decodePaxRecords(Buffer.from('99 a=b\n'))).toEqual([]);
    expect(decodePaxRecords(Buffer.from('6 a=b\n9 broken'))).toEqual([['a', Buffer.from('b')]]);
  });
});

describe('PaxTap', () => {
  const entries: Raw[] = [
    paxHeader([['SCHILY.xattr.security.capability', CAPABILITY]]),
    { name: 'bin/ping', body: 'ping\n' },
    { name: 'plain', body: 'x'.repeat(1000) },
    // tar-stream's own PAX header (a long path) plus a UTF-8 xattr it wrote itself.
    { name: `long/${'d'.repeat(120)}/file`, body: 'y', pax: { 'SCHILY.xattr.user.text': 'héllo' } },
    { name: 'dir/', type: 'directory' },
    paxHeader([['SCHILY.xattr.user.bin', NOT_UTF8], ['size', '3']]),
    { name: 'sized', body: 'abc' },
  ];
  const want = [
    { name: 'bin/ping', xattrs: { 'security.capability': CAPABILITY.toString('hex') } },
    { name: 'plain', xattrs: {} },
    { name: `long/${'d'.repeat(120)}/file`, xattrs: { 'user.text': Buffer.from('héllo').toString('hex') } },
    { name: 'dir/', xattrs: {} },
    { name: 'sized', xattrs: { 'user.bin': NOT_UTF8.toString('hex') } },
  ];

  it.each([1, 7, 512, 100_000])('finds each entry\'s xattrs as exact bytes, fed %i bytes at a time', async (step) => {
    expect(await read(await tarOf(entries), step)).toEqual(want);
  });

  it('global records count for an entry with records of its own, as tar-stream applies them', async () => {
    const bytes = await tarOf([
      { name: 'GlobalHead', type: 'pax-global-header', body: encodePaxRecords([['SCHILY.xattr.user.g', 'G']]) },
      { name: 'a', body: '1' },
      paxHeader([['SCHILY.xattr.user.l', 'L']]),
      { name: 'b', body: '2' },
    ]);
    expect(await read(bytes, 3)).toEqual([
      { name: 'a', xattrs: {} },
      { name: 'b', xattrs: { 'user.g': '47', 'user.l': '4c' } },
    ]);
  });

  it('stops at a corrupt header without throwing (the extractor reports it)', () => {
    const tap = new PaxTap();
    expect(() => tap.push(Buffer.alloc(1024, 7))).not.toThrow();
    expect(tap.xattrsAt(512)).toEqual([]);
  });
});
