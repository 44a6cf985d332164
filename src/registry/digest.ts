import { createHash } from 'node:crypto';
import { LayerfsError } from '../errors.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export const isDigest = (s: string): boolean => DIGEST.test(s);

/** Only sha256 is accepted: it is what every registry and image here uses. */
export function checkDigest(s: string, what: string): string {
  if (!DIGEST.test(s)) throw new LayerfsError('BAD_DIGEST', `${what}: not a sha256 digest: '${s}'`, { what, digest: s });
  return s;
}

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The 12-hex short form docker prints in progress lines. */
export const shortDigest = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
