/**
 * Uploads one blob unless the registry has it already (HEAD).
 *   small blob: POST an upload session, then one PUT ?digest= with the bytes;
 *   large blob: POST, then PATCH chunk after chunk (Content-Range), following
 *   the Location each answer returns, then an empty PUT ?digest= to commit.
 * The registry checks the digest when the upload is committed. A transient
 * failure restarts the whole upload from a fresh session.
 */
import type { Readable } from 'node:stream';
import type { RegistryClient } from './client.js';
import { RegistryError } from './registry-error.js';
import { withRetries } from './retry.js';
import { discard, type HttpResponse } from './transport.js';

export interface BlobSource {
  digest: string;
  size: number;
  mediaType: string;
  /** Opens the blob, or the inclusive byte range [start, end] of it. */
  open(range?: { start: number; end: number }): Readable;
}

export interface UploadOptions {
  /** Blobs larger than this go up in PATCH chunks of this size. */
  chunkSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export type UploadResult = 'exists' | 'pushed';

export const DEFAULT_CHUNK_SIZE = 16 << 20;

function location(res: HttpResponse): URL {
  const loc = res.headers.location;
  if (typeof loc !== 'string') throw new RegistryError(res.body.method ?? 'POST', res.url.href, res.status, [], 'upload answer without a Location header');
  return new URL(loc, res.url);
}

function withDigest(url: URL, digest: string): URL {
  const out = new URL(url);
  out.searchParams.set('digest', digest);
  return out;
}

export async function uploadBlob(client: RegistryClient, blob: BlobSource, opts: UploadOptions = {}): Promise<UploadResult> {
  if (await client.hasBlob(blob.digest)) return 'exists';
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const target = client.repoUrl('blobs/uploads/');
  await withRetries(client.retry, async () => {
    const started = await client.request('POST', client.repoUrl('blobs/uploads/'), { ok: [202], retry: false, headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
    await discard(started);
    let url = location(started);
    if (blob.size <= chunkSize) {
      const res = await client.request('PUT', withDigest(url, blob.digest), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body: () => blob.open(),
        ok: [201],
        retry: false,
      });
      await discard(res);
      opts.onProgress?.(blob.size, blob.size);
      return;
    }
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(blob.size, start + chunkSize) - 1;
      const res = await client.request('PATCH', url, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start + 1), 'content-range': `${start}-${end}` },
        body: () => blob.open({ start, end }),
        ok: [202],
        retry: false,
      });
      await discard(res);
      url = location(res);
      opts.onProgress?.(end + 1, blob.size);
    }
    const done = await client.request('PUT', withDigest(url, blob.digest), { headers: { 'content-length': '0' }, body: Buffer.alloc(0), ok: [201], retry: false });
    await discard(done);
  }, client.onRetry).catch((err: unknown) => {
    throw client.explain(err, target);
  });
  return 'pushed';
}
