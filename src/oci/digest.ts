/**
 * sha256 digests, the names of everything in an image: computing them,
 * validating them (they become file names and URL paths), checking a blob
 * against the digest that names it, and docker's 12-hex short form.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BadDigestError, DigestMismatchError } from '../errors.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
export const isDigest = (s: unknown): s is string => typeof s === 'string' && DIGEST.test(s);
/** The hex part of `sha256:<hex>`: the digest's name on disk. */
export const hexOf = (digest: string): string => digest.slice('sha256:'.length);

/** Only sha256 is accepted: it is what every registry and image here uses. Returns the digest. */
export function checkDigest(digest: unknown, what: string): string {
  if (!isDigest(digest)) throw new BadDigestError(what, digest);
  return digest;
}

/** Throws a DigestMismatchError when `actual` is not the `expected` digest (when one is expected). */
export function verifyDigest(what: string, expected: string | undefined, actual: string): void {
  if (expected !== undefined && expected !== actual) throw new DigestMismatchError(what, expected, actual);
}

/** The 12-hex short form docker prints for image, layer and container IDs (with or without `sha256:`). */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/**
 * A pass-through stream that hashes what flows through it and, at its end,
 * fails with DigestMismatchError unless the bytes are the blob `expected` names.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash = createHash('sha256');
  /** The digest of everything seen, once the stream has ended. */
  digest: string | undefined;

  constructor(
    private readonly expected: string | undefined,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.digest = `sha256:${this.hash.digest('hex')}`;
    try {
      verifyDigest(this.what, this.expected, this.digest);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}
