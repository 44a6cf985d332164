/**
 * Compresses a plain layer for push, as docker does (gzip by default), into
 * a file, with the digest and size of the compressed bytes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGzip } from 'node:zlib';
import { LayerfsError } from '../errors.js';
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

/** `src` through `zstd -c` into `out`. A missing program or a failed run is an error that says which. */
// Node 20 has no zstd encoder: the zstd program does it.
async function zstdCompress(src: Readable, out: Writable, level = 3): Promise<void> {
  const child = spawn('zstd', ['-q', '-c', `-${level}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((res, rej) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      rej(err.code === 'ENOENT' ? new LayerfsError('NO_ZSTD', 'zstd compression needs the zstd program (apt-get install zstd)') : err),
    );
    child.on('close', (code, signal) => (code === 0 ? res() : rej(new LayerfsError('ZSTD_FAILED', `zstd failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`))));
  });
  try {
    await Promise.all([pipeline(src, child.stdin), pipeline(child.stdout, out), exited]);
  } finally {
    if (child.exitCode === null) child.kill();
  }
}
