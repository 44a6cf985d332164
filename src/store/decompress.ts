/**
 * Layer blobs come plain, gzip or zstd. The format is sniffed from the first
 * bytes (docker-save archives do not say, and manifests may be wrong), so one
 * async generator handles all three.
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { layerMediaType, type Compression } from '../oci/media-type.js';
export { layerMediaType, type Compression };

export function sniff(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

async function* zstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let out: Buffer[] = [];
  const dec = new Decompress((chunk) => out.push(Buffer.from(chunk)));
  const push = (chunk: Uint8Array, final: boolean) => {
    try {
      dec.push(chunk, final);
    } catch (err) {
      throw new Error(`zstd: ${(err as Error).message}`);
    }
  };
  for await (const chunk of source) {
    push(chunk, false);
    yield* out;
    out = [];
  }
  push(new Uint8Array(0), true);
  yield* out;
}

async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip();
  pipeline(Readable.from(source), z, () => {}); // errors surface through the iteration below
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch (err) {
    throw new Error(`gzip: ${(err as Error).message}`);
  }
}

/** Yields the decompressed bytes of `source`; `found` learns the compression once it is known. */
export async function* decompress(source: AsyncIterable<Buffer>, found?: (c: Compression) => void): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < 4) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headLen += r.value.length;
  }
  const first = Buffer.concat(head);
  const kind = sniff(first);
  found?.(kind);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  if (kind === 'gzip') yield* gunzip(all());
  else if (kind === 'zstd') yield* zstd(all());
  else yield* all();
}
