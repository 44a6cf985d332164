/**
 * The mount warms its write paths on a scratch overlay before it is ready
 * (src/warm-up.ts): that must leave no trace in the user's layers and must
 * not change what the first writes do.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshMount, py } from '../helpers/fresh-mount.js';
import { unmountAll } from '../helpers/mounts.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-warm-up-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('warm-up before the mount is ready', () => {
  it.each(['layerfs', 'fuse-native'] as const)('%s: upper and work hold nothing of it; the first copy-up is a normal one', async (side) => {
    const f = await freshMount(root, side, { lower: { file: 'lower\n', dir: { type: 'dir' }, 'dir/inner': 'x' } });
    expect(readdirSync(f.upper)).toEqual([]);
    expect(readdirSync(join(f.work, 'work'))).toEqual([]);
    const r = await py("open('file','a').write('more\\n'); print(sorted(__import__('os').listdir('.')))", f.mnt);
    expect(r).toEqual({ code: 0, out: "['dir', 'file']\n" });
    expect(readFileSync(join(f.upper, 'file'), 'utf8')).toBe('lower\nmore\n');
    expect(readdirSync(f.upper)).toEqual(['file']);
  });
});
