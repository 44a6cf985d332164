/** sha256 digests: computing them on a stream as it passes, and checking them at its end. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BadArchiveError, DigestMismatchError } from '../errors.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
export const hexOf = (digest: string): string => digest.slice('sha256:'.length);
export const isDigest = (s: string): boolean => DIGEST.test(s);

/** Validates a digest read from an untrusted manifest before it becomes part of a path. */
export function checkDigest(file: string, digest: unknown, what: string): string {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new BadArchiveError(file, `${what}: not a sha256 digest: ${JSON.stringify(digest)}`);
  }
  return digest;
}

/** Passes bytes through unchanged, hashing and counting them; read `digest`/`bytes` once the stream ended. */
export class DigestTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    done(null, chunk);
  }
  get digest(): string {
    return `sha256:${this.hash.copy().digest('hex')}`;
  }
}

export function verifyDigest(what: string, expected: string | undefined, actual: string): void {
  if (expected !== undefined && expected !== actual) throw new DigestMismatchError(what, expected, actual);
}
