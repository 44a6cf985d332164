/**
 * A known limit, pinned down: libfuse 2's high-level API gives every path its
 * own kernel inode, so after `ln a b` the kernel keeps serving a's cached
 * attributes (link count, and the inode number from before copy-up) until
 * attr_timeout (1 s) passes. Kernel overlayfs shows the new link count at once.
 * attr_timeout=0 would fix it at 3-4x the cost of every warm lstat; this test
 * holds the window to attr_timeout and fails if it ever grows.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountLayerfs, sh, unmountAll } from '../helpers/mounts.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-hl-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('a hard link shows its new link count on the old name within attr_timeout', async () => {
  const [l, u, w, m] = ['l', 'u', 'w', 'm'].map((d) => join(root, d)) as [string, string, string, string];
  for (const d of [l, u, w, m]) mkdirSync(d);
  writeFileSync(join(l, 'a'), 'x');
  await mountLayerfs({ lowerdirs: [l], upperdir: u, workdir: w }, m);
  expect(lstatSync(join(m, 'a')).nlink).toBe(1);
  linkSync(join(m, 'a'), join(m, 'b'));
  expect(lstatSync(join(m, 'b')).nlink).toBe(2); // the new name is right at once
  await new Promise((r) => setTimeout(r, 1100));
  expect(lstatSync(join(m, 'a')).nlink).toBe(2);
  expect(lstatSync(join(m, 'a')).ino).toBe(lstatSync(join(m, 'b')).ino);
});

it('data written through one hard link is read through the other at once (no stale page cache)', async () => {
  const [l, u, w, m] = ['l2', 'u2', 'w2', 'm2'].map((d) => join(root, d)) as [string, string, string, string];
  for (const d of [l, u, w, m]) mkdirSync(d);
  writeFileSync(join(l, 'a'), 'original\n');
  await mountLayerfs({ lowerdirs: [l], upperdir: u, workdir: w }, m);
  linkSync(join(m, 'a'), join(m, 'b'));
  expect(readFileSync(join(m, 'b'), 'utf8')).toBe('original\n'); // b's pages are now cached
  // Same size, written in place: only the mtime tells the cache it is stale.
  expect(await sh(`printf 'CHANGED!\\n' | dd of=${m}/a conv=notrunc status=none`, '/')).toEqual({ code: 0, out: '' });
  expect(readFileSync(join(m, 'b'), 'utf8')).toBe('CHANGED!\n');
});
