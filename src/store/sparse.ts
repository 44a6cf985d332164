/**
 * Sparse files in tar, as GNU tar writes them and Go's archive/tar (so
 * Docker) reads them: the entry's data holds only the parts that are not
 * holes, and a map says where each part goes in a file of `realSize` bytes.
 *
 * - GNU format, type 'S': the map is in the header (up to 4 parts; more
 *   spill into extension blocks after it, which tar-stream cannot skip, so
 *   those are refused by name).
 * - PAX 0.0 (`GNU.sparse.offset`/`numbytes` records, repeated) and 0.1
 *   (`GNU.sparse.map`): the map is in the records.
 * - PAX 1.0 (`GNU.sparse.major=1`): the map leads the data, as decimal
 *   lines padded to a 512-byte block.
 *
 * The real name is `GNU.sparse.name` (PAX; the header's is a placeholder).
 */
import type { FileHandle } from 'node:fs/promises';

export type Segment = [offset: number, length: number];

export interface Sparse {
  kind: 'sparse';
  /** Names the format in errors. */
  format: string;
  realSize: number;
  /** The entry's real name, when the header's is a placeholder. */
  name?: string;
  /** The map, or null when it leads the data (PAX 1.0). */
  map: Segment[] | null;
}

export interface Unsupported {
  kind: 'unsupported';
  what: string;
}

const BLOCK = 512;

/** A numeric header field: octal text, or GNU base-256 when its first byte has the high bit. */
export function numField(b: Buffer): number {
  if (b[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  const text = b.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** A GNU 'S' header's sparse description. */
export function gnuSparse(h: Buffer): Sparse | Unsupported {
  if (h[482] !== 0) return { kind: 'unsupported', what: "GNU sparse file of more than 4 parts (type 'S' with extension headers)" };
  const map: Segment[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 386 + i * 24;
    if (h[at] === 0) break;
    map.push([numField(h.subarray(at, at + 12)), numField(h.subarray(at + 12, at + 24))]);
  }
  return { kind: 'sparse', format: "GNU type 'S'", realSize: numField(h.subarray(483, 495)), map };
}

/** The sparse description in an entry's PAX records, if any. */
export function paxSparse(records: Array<[string, Buffer]>): Sparse | Unsupported | null {
  const get = (k: string) => records.findLast(([key]) => key === k)?.[1].toString('utf8');
  if (!records.some(([k]) => k.startsWith('GNU.sparse.'))) return null;
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN);
  const name = get('GNU.sparse.name');
  if (get('GNU.sparse.major') !== undefined) {
    const version = `${get('GNU.sparse.major')}.${get('GNU.sparse.minor') ?? '0'}`;
    if (version !== '1.0') return { kind: 'unsupported', what: `PAX sparse file${name ? ` '${name}'` : ''} (GNU.sparse format ${version})` };
    return { kind: 'sparse', format: 'PAX 1.0', realSize: num(get('GNU.sparse.realsize')), name, map: null };
  }
  const realSize = num(get('GNU.sparse.size'));
  const text = get('GNU.sparse.map');
  if (text !== undefined) {
    const ns = text.split(',').map(num);
    const map: Segment[] = [];
    for (let i = 0; i + 1 < ns.length; i += 2) map.push([ns[i]!, ns[i + 1]!]);
    return { kind: 'sparse', format: 'PAX 0.1', realSize, name, map: ns.length % 2 === 0 ? map : [[NaN, NaN]] };
  }
  const offsets = records.filter(([k]) => k === 'GNU.sparse.offset').map(([, v]) => num(v.toString()));
  const lengths = records.filter(([k]) => k === 'GNU.sparse.numbytes').map(([, v]) => num(v.toString()));
  const map: Segment[] = offsets.map((o, i) => [o, lengths[i] ?? NaN]);
  return { kind: 'sparse', format: 'PAX 0.0', realSize, name, map: offsets.length === lengths.length ? map : [[NaN, NaN]] };
}

/** Reads exact byte counts from an entry's body. */
class Body {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  consumed = 0;
  constructor(body: AsyncIterable<Buffer>) {
    this.it = body[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }
  /** Up to `max` bytes (at least one), or null at the end. */
  async some(max: number): Promise<Buffer | null> {
    if (this.buf.length === 0 && !(await this.fill())) return null;
    const out = this.buf.subarray(0, max);
    this.buf = this.buf.subarray(out.length);
    this.consumed += out.length;
    return out;
  }
  async line(limit = 32): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0 && nl <= limit) {
        const text = this.buf.subarray(0, nl).toString('latin1');
        this.buf = this.buf.subarray(nl + 1);
        this.consumed += nl + 1;
        return text;
      }
      if (this.buf.length > limit || !(await this.fill())) return null;
    }
  }
}

/**
 * Writes a sparse entry's data into `fh` (a new, empty file) at the places
 * its map says, then sets the file's size. Returns null, or why the entry is
 * malformed (the caller names the archive and the entry).
 */
export async function writeSparse(fh: FileHandle, body: AsyncIterable<Buffer>, s: Sparse, dataSize: number): Promise<string | null> {
  const b = new Body(body);
  let map = s.map;
  if (map === null) {
    const num = (t: string | null) => (t !== null && /^\d{1,16}$/.test(t) ? Number(t) : NaN);
    const count = num(await b.line());
    // each part takes at least four bytes of map ("0\n0\n"): a count the data cannot hold is a lie
    if (!Number.isSafeInteger(count) || count * 4 > dataSize) return 'bad sparse map (part count)';
    map = [];
    for (let i = 0; i < count; i++) {
      const o = num(await b.line());
      const l = num(await b.line());
      if (Number.isNaN(o) || Number.isNaN(l)) return 'bad sparse map (not a number)';
      map.push([o, l]);
    }
    const pad = (BLOCK - (b.consumed % BLOCK)) % BLOCK;
    for (let left = pad; left > 0; ) {
      const c = await b.some(left);
      if (c === null) return 'bad sparse map (cut short)';
      left -= c.length;
    }
  }
  if (!Number.isSafeInteger(s.realSize) || s.realSize < 0) return 'bad sparse real size';
  let end = 0;
  for (const [o, l] of map) {
    if (!Number.isSafeInteger(o) || !Number.isSafeInteger(l) || o < end || l < 0 || o + l > s.realSize) return 'bad sparse map (parts out of order or past the end)';
    end = o + l;
  }
  if (b.consumed + map.reduce((n, [, l]) => n + l, 0) !== dataSize) return 'sparse map does not match the data';
  for (const [offset, length] of map) {
    for (let done = 0; done < length; ) {
      const c = await b.some(length - done);
      if (c === null) return 'sparse data cut short';
      await fh.write(c, 0, c.length, offset + done);
      done += c.length;
    }
  }
  await fh.truncate(s.realSize);
  return null;
}
