/** sha256 digests: computing, validating (they become file names) and checking them. */
import { createHash } from 'node:crypto';
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

export function verifyDigest(what: string, expected: string | undefined, actual: string): void {
  if (expected !== undefined && expected !== actual) throw new DigestMismatchError(what, expected, actual);
}
