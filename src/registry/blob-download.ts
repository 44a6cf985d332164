/**
 * Downloads one blob to a file and proves it is the blob asked for.
 * After a reset or a registry restart the download resumes where it stopped
 * with `Range: bytes=N-` (a registry that answers 200 instead of 206 makes
 * us start over). The digest is checked over the whole file at the end; on
 * a mismatch, or once the retries run out, the file is removed.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestMismatchError, LayerfsError } from '../errors.js';
import type { RegistryClient } from './client.js';
import type { Descriptor } from '../oci/manifest.js';
import { backoff, isTransient } from './retry.js';

export interface DownloadOptions {
  /** Bytes on disk so far, after every chunk. */
  onProgress?: (done: number, total: number) => void;
  /** A download broke at `offset` and is being resumed (or restarted, when the registry ignores Range). */
  onResume?: (offset: number, err: unknown) => void;
}

export interface DownloadResult {
  /** Offsets at which the download resumed with a Range request and got 206. */
  resumedAt: number[];
}

const sizeOf = async (file: string): Promise<number> => (await stat(file).catch(() => ({ size: 0 }))).size;

async function hashPrefix(file: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length > 0) for await (const chunk of createReadStream(file, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
  return hash;
}

export async function downloadBlob(client: RegistryClient, desc: Descriptor, file: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const url = client.repoUrl(`blobs/${desc.digest}`);
  const what = `blob ${desc.digest} (${url.href})`;
  const resumedAt: number[] = [];
  try {
    for (let attempt = 0; ; attempt++) {
      const offset = attempt === 0 ? 0 : await sizeOf(file);
      try {
        await fetchFrom(offset);
        break;
      } catch (err) {
        if (!isTransient(err) || attempt + 1 >= client.retry.attempts) throw client.explain(err, url);
        opts.onResume?.(await sizeOf(file), err);
        await sleep(backoff(client.retry, attempt + 1));
      }
    }
  } catch (err) {
    await unlink(file).catch(() => {});
    throw err;
  }
  return { resumedAt };

  async function fetchFrom(offset: number): Promise<void> {
    const ranged = offset > 0 && offset < desc.size;
    // One try per request here: this loop owns the retries, so it can resume.
    const res = await client.request('GET', url, { headers: ranged ? { range: `bytes=${offset}-` } : {}, ok: [200, 206], retry: false });
    let start = 0;
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (!ranged || !m || Number(m[1]) !== offset) {
        res.body.destroy();
        throw new LayerfsError('BAD_RANGE', `${what}: asked for bytes from ${offset}, got '${res.headers['content-range']}'`);
      }
      start = offset;
      resumedAt.push(offset);
    }
    const hash = await hashPrefix(file, start);
    let done = start;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        if (done > desc.size) return cb(new LayerfsError('BLOB_TOO_LARGE', `${what}: more than the ${desc.size} bytes the manifest declares`));
        hash.update(chunk);
        opts.onProgress?.(done, desc.size);
        cb(null, chunk);
      },
    });
    await pipeline(res.body, count, createWriteStream(file, start > 0 ? { flags: 'r+', start } : { flags: 'w', mode: 0o600 }));
    if (done < desc.size) {
      // The server ended the body early without an error: treat like a reset so it is resumed.
      throw Object.assign(new Error(`${what}: connection closed after ${done} of ${desc.size} bytes`), { code: 'ECONNRESET' });
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== desc.digest) throw new DigestMismatchError(what, desc.digest, actual);
  }
}
