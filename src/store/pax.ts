/**
 * PAX extended headers, read from the raw tar bytes. tar-stream decodes every
 * PAX record as UTF-8, which destroys binary xattr values (security.capability
 * is a binary struct), and offers no way to see the record bytes. So a
 * PaxTap sees the same bytes the extractor is fed, walks the tar's headers
 * itself, and keeps each entry's `SCHILY.xattr.*` records as exact bytes,
 * keyed by where the entry's data starts: tar-stream's `header.byteOffset`.
 *
 * The tap's states: at a header block → (a PAX or GNU long-name header: in
 * its data, collected) | (any other entry: skipping its data) → at a header
 * block …; a zero block is skipped; a header whose checksum is wrong stops
 * the tap (the extractor reports the error).
 */
import { Transform } from 'node:stream';
import { gnuSparse, numField as sizeField, paxSparse, type Sparse, type Unsupported } from './sparse.js';

export type Special = Sparse | Unsupported;

export const XATTR_PREFIX = 'SCHILY.xattr.';

const BLOCK = 512;
/** As tar-stream: a long header larger than this is refused. */
const MAX_HEADER = 1024 * 1024;

export type PaxRecord = [key: string, value: Buffer];

/** `LEN KEY=VALUE\n` records; a malformed tail ends the list, as in tar-stream. */
export function decodePaxRecords(buf: Buffer): PaxRecord[] {
  const out: PaxRecord[] = [];
  while (buf.length) {
    const space = buf.indexOf(0x20);
    const len = parseInt(buf.subarray(0, space).toString('latin1'), 10);
    if (!len || space < 0 || len > buf.length || len <= space + 1) break;
    const record = buf.subarray(space + 1, len - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) break;
    out.push([record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1))]);
    buf = buf.subarray(len);
  }
  return out;
}

/** Encodes records, values as given (bytes or UTF-8 text). */
export function encodePaxRecords(records: Array<[string, Buffer | string]>): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
      let len = body.length + 1;
      while (String(len).length + body.length !== len) len = String(len).length + body.length;
      return Buffer.concat([Buffer.from(String(len)), body]);
    }),
  );
}

export const xattrsOf = (records: PaxRecord[]): PaxRecord[] =>
  records.filter(([k]) => k.startsWith(XATTR_PREFIX)).map(([k, v]) => [k.slice(XATTR_PREFIX.length), v]);

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === sizeField(h.subarray(148, 156));
}

const isZero = (h: Buffer) => h.every((b) => b === 0);

const GNU_TYPES: Record<string, string> = {
  V: "GNU volume header (type 'V')",
  M: "GNU multi-volume continuation (type 'M')",
  D: "GNU dump directory (type 'D')",
  N: "old GNU long name (type 'N')",
};

/**
 * What an entry is when its data is not simply the file's bytes: a sparse
 * file (GNU's type 'S', or PAX's GNU.sparse.* records, which keep type '0'
 * and so would unpack as garbage; see sparse.ts), or one of GNU's
 * archive-level types. tar-stream types them all as null, or as a plain file.
 */
function specialOf(h: Buffer, records: PaxRecord[]): Special | null {
  const c = String.fromCharCode(h[156]!);
  if (c === 'S') return gnuSparse(h);
  if (GNU_TYPES[c]) return { kind: 'unsupported', what: GNU_TYPES[c]! };
  return paxSparse(records);
}

export class PaxTap {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private offset = 0;
  /** Bytes of the current entry's data still to skip, or to collect for a long header. */
  private missing = 0;
  private collecting: 'pax' | 'global' | 'other' | null = null;
  private collected: Buffer[] = [];
  private local: PaxRecord[] | null = null;
  private global: PaxRecord[] = [];
  private stopped = false;
  private readonly xattrs = new Map<number, PaxRecord[]>();
  /** Sparse entries and the kinds layerfs refuses, by data offset. */
  private readonly special = new Map<number, Special>();

  /** Sees the next bytes of the tar, in order. */
  push(chunk: Buffer): void {
    if (this.stopped) return;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    while (!this.stopped) {
      if (this.missing > 0) {
        const n = Math.min(this.missing, this.pendingLength);
        if (n === 0) return;
        const bytes = this.take(n);
        if (this.collecting) this.collected.push(bytes);
        this.missing -= n;
        if (this.missing === 0) this.endData();
        continue;
      }
      if (this.pendingLength < BLOCK) return;
      this.header(this.take(BLOCK));
    }
  }

  /** The xattrs of the entry whose data starts at `byteOffset` (tar-stream's header.byteOffset), as exact bytes. */
  xattrsAt(byteOffset: number): PaxRecord[] {
    return this.xattrs.get(byteOffset) ?? [];
  }

  /** What the entry at `byteOffset` is when it is no plain entry (a sparse file, a GNU volume header), else null. */
  specialAt(byteOffset: number): Special | null {
    return this.special.get(byteOffset) ?? null;
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingLength = rest.length;
    this.offset += n;
    return out;
  }

  private header(h: Buffer): void {
    if (isZero(h)) return;
    if (!checksumOk(h)) {
      this.stopped = true;
      return;
    }
    const flag = h[156] === 0 ? 0 : h[156]! - 0x30;
    let size = sizeField(h.subarray(124, 136));
    const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
    if (flag === 72 || flag === 55 || flag === 27 || flag === 28 || flag === 30) {
      if (size > MAX_HEADER) {
        this.stopped = true;
        return;
      }
      this.collecting = flag === 72 ? 'pax' : flag === 55 ? 'global' : 'other';
      this.collected = [];
      this.missing = padded(size);
      if (this.missing === 0) this.endData();
      return;
    }
    // An entry: its pax records belong to the data that starts here. As in
    // tar-stream, the global records count only for an entry with records of its own.
    const records = this.local ? [...this.global, ...this.local] : [];
    const paxSize = records.findLast(([k]) => k === 'size');
    if (paxSize) size = parseInt(paxSize[1].toString('latin1'), 10) || 0;
    const xattrs = xattrsOf(records);
    if (xattrs.length) this.xattrs.set(this.offset, xattrs);
    const special = specialOf(h, records);
    if (special !== null) this.special.set(this.offset, special);
    this.local = null;
    // tar-stream gives a directory (or an old-style file name ending in '/') no data, whatever its size says.
    const name = h.subarray(0, 100);
    const nul = name.indexOf(0);
    const slash = (nul < 0 ? name : name.subarray(0, nul)).at(-1) === 0x2f;
    this.missing = flag === 5 || (flag === 0 && slash) ? 0 : padded(size);
  }

  private endData(): void {
    const kind = this.collecting;
    this.collecting = null;
    if (kind === 'pax' || kind === 'global') {
      const records = decodePaxRecords(Buffer.concat(this.collected));
      if (kind === 'pax') this.local = records;
      else this.global = records;
    }
    this.collected = [];
  }
}

/**
 * Writing PAX records tar-stream cannot write: its packer encodes every
 * record as UTF-8 text and takes no body for a PAX header. So a record set is
 * packed as a plain file named PAX_MARK (paxEntry), and the packer's output
 * goes through retypePaxEntries(), which turns those files into PAX headers
 * (typeflag 'x', name `PaxHeader`) and fixes their checksums.
 */
export const PAX_MARK = '@@layerfs-pax-header@@';

export function paxEntry(records: Array<[string, Buffer | string]>): { header: { name: string; type: 'file'; size: number; mode: number; mtime: Date }; body: Buffer } {
  const body = encodePaxRecords(records);
  return { header: { name: PAX_MARK, type: 'file', size: body.length, mode: 0o644, mtime: new Date(0) }, body };
}

function retypeHeader(h: Buffer): void {
  h.fill(0, 0, 100);
  h.write('PaxHeader', 0, 'latin1');
  h[156] = 0x78; // 'x'
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

/** A pass-through of a tar stream that retypes the PAX_MARK files into PAX headers. */
export function retypePaxEntries(): Transform {
  let head: Buffer[] = [];
  let headLength = 0;
  let skip = 0;
  const mark = Buffer.from(PAX_MARK + '\0', 'latin1');
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const out: Buffer[] = [];
      let rest = chunk;
      while (rest.length) {
        if (skip > 0) {
          const n = Math.min(skip, rest.length);
          out.push(rest.subarray(0, n));
          rest = rest.subarray(n);
          skip -= n;
          continue;
        }
        const n = Math.min(BLOCK - headLength, rest.length);
        head.push(rest.subarray(0, n));
        headLength += n;
        rest = rest.subarray(n);
        if (headLength < BLOCK) break;
        const h = Buffer.concat(head);
        head = [];
        headLength = 0;
        if (!isZero(h)) {
          if (h.subarray(0, mark.length).equals(mark)) retypeHeader(h);
          const flag = h[156] === 0 ? 0 : h[156]! - 0x30;
          if (flag !== 5) skip = Math.ceil(sizeField(h.subarray(124, 136)) / BLOCK) * BLOCK;
        }
        out.push(h);
      }
      cb(null, out.length ? Buffer.concat(out) : undefined);
    },
    flush(cb) {
      cb(null, headLength ? Buffer.concat(head) : undefined);
    },
  });
}
