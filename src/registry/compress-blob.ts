/**
 * Compresses a plain layer for push, as docker does (gzip by default), into
 * a file, with the digest and size of the compressed bytes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGzip } from 'node:zlib';
import { zstdCompress } from '../sys.js';
import type { Compression } from '../oci/media-type.js';

export interface CompressedBlob {
  digest: string;
  size: number;
}

export async function compressToFile(src: Readable, kind: Exclude<Compression, 'none'>, file: string): Promise<CompressedBlob> {
  const hash = createHash('sha256');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const out = createWriteStream(file, { mode: 0o600 });
  if (kind === 'gzip') await pipeline(src, createGzip({ level: constants.Z_DEFAULT_COMPRESSION }), count, out);
  else await Promise.all([zstdCompress(src, count), pipeline(count, out)]);
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
