/**
 * tar-stream decodes every PAX record as UTF-8, which destroys binary xattr
 * values (security.capability is a binary struct). We replace its decoder once
 * with one that keeps `SCHILY.xattr.*` values as latin1 strings, so
 * `Buffer.from(value, 'latin1')` gives back the exact bytes; every other
 * record is decoded as before.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
// The package's exports map hides headers.js; the absolute path reaches the same module instance extract.js uses.
const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as {
  decodePax(buf: Buffer): Record<string, string>;
  __layerfsBinaryXattrs?: boolean;
};

export const XATTR_PREFIX = 'SCHILY.xattr.';

function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  while (buf.length) {
    const space = buf.indexOf(0x20);
    const len = parseInt(buf.subarray(0, space).toString(), 10);
    if (!len || space < 0 || len > buf.length) return result;
    const record = buf.subarray(space + 1, len - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) return result;
    const key = record.subarray(0, eq).toString('utf8');
    result[key] = record.subarray(eq + 1).toString(key.startsWith(XATTR_PREFIX) ? 'latin1' : 'utf8');
    buf = buf.subarray(len);
  }
  return result;
}

if (!headers.__layerfsBinaryXattrs) {
  headers.decodePax = decodePax;
  headers.__layerfsBinaryXattrs = true;
}

/** The xattrs a PAX header carries, as exact bytes. */
export function paxXattrs(pax: Record<string, string> | null | undefined): Array<[string, Buffer]> {
  if (!pax) return [];
  return Object.entries(pax)
    .filter(([k]) => k.startsWith(XATTR_PREFIX))
    .map(([k, v]) => [k.slice(XATTR_PREFIX.length), Buffer.from(v, 'latin1')]);
}
