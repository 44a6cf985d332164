import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkDigest, DigestVerifier, hexOf, isDigest, sha256, shortId, verifyDigest } from '../../src/oci/digest.js';

const HELLO = 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('digests', () => {
  it('computes, splits and shortens', () => {
    expect(sha256('hello')).toBe(HELLO);
    expect(hexOf(HELLO)).toBe(HELLO.slice(7));
    expect(shortId(HELLO)).toBe('2cf24dba5fb0');
    expect(shortId('2cf24dba5fb0a30e26e8')).toBe('2cf24dba5fb0');
  });

  it.each([
    [HELLO, true],
    ['sha256:../../etc/passwd', false],
    [HELLO.toUpperCase(), false],
    [`sha512:${'a'.repeat(128)}`, false],
    [HELLO.slice(0, -1), false],
    [42, false],
  ])('isDigest(%j) = %s', (s, ok) => {
    expect(isDigest(s)).toBe(ok);
    if (ok) expect(checkDigest(s, 'x')).toBe(s);
    else expect(() => checkDigest(s, 'manifest')).toThrow(expect.objectContaining({ code: 'BAD_DIGEST', message: expect.stringMatching(/^manifest: not a sha256 digest/) }));
  });

  it('verifyDigest: DIGEST_MISMATCH names both digests; no expectation passes', () => {
    expect(() => verifyDigest('blob', HELLO, sha256('other'))).toThrow(expect.objectContaining({ code: 'DIGEST_MISMATCH', data: expect.objectContaining({ expected: HELLO }) }));
    expect(() => verifyDigest('blob', undefined, HELLO)).not.toThrow();
  });

  it('DigestVerifier passes the bytes through and checks them at the end of the stream', async () => {
    const ok = new DigestVerifier(HELLO, 'blob');
    await pipeline(Readable.from([Buffer.from('hel'), Buffer.from('lo')]), ok, sink());
    expect(ok.digest).toBe(HELLO);
    await expect(pipeline(Readable.from([Buffer.from('hell'), Buffer.from('o!')]), new DigestVerifier(HELLO, 'blob'), sink())).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});
