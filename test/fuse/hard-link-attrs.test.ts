/**
 * Hard links on a real mount, with no sleeps: layerfs's engine gives every
 * file one kernel inode (one nodeid), so a change through one name shows
 * through every other name at once, as on kernel overlayfs. Each row runs on
 * both and must print the same: link count, mode, owner and size of each name
 * right after the change, and whether the names are still one inode.
 *
 * Lower-layer hard links are the exception, on both: with index=off a copy-up
 * through one name breaks it off, and the other name keeps its mode and link
 * count (the lower file's).
 *
 * The old engine (engine=fuse-native, libfuse 2) gives every path its own
 * kernel inode: there the other name is stale until attr_timeout (1 s); that
 * window is pinned down below so it never grows.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, unmountAll } from '../helpers/mounts.js';
import { freshMount, type Layout, type Side } from '../helpers/fresh-mount.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-hl-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Each name that exists: `name nlink mode uid:gid size`; then whether a and b (if both exist) are one inode. */
const REPORT = `for n in a b c; do [ -e $n ] && stat -c '%n %h %a %u:%g %s' $n; done
[ -e a ] && [ -e b ] && { [ "$(stat -c %i a)" = "$(stat -c %i b)" ] && echo one-inode || echo two-inodes; }; true`;
/** Both names' attributes are in the kernel's cache before the change. */
const PRIME = 'stat a b > /dev/null';

const inMount: Layout & { setup: string } = { setup: "printf abc > a && ln a b && stat a b > /dev/null" };
const inUpper: Layout & { setup: string } = { upper: { a: 'abc', b: { type: 'hardlink', to: 'a' } }, setup: PRIME };
const inLower: Layout & { setup: string } = { lower: { a: 'abc', b: { type: 'hardlink', to: 'a' } }, setup: PRIME };

interface Row {
  links: string;
  layout: Layout & { setup: string };
  change: string;
  expected: string;
}

const changes = (links: string, layout: Row['layout']): Row[] => [
  { links, layout, change: ':', expected: 'a 2 644 0:0 3\nb 2 644 0:0 3\none-inode' },
  { links, layout, change: 'chmod 600 b', expected: 'a 2 600 0:0 3\nb 2 600 0:0 3\none-inode' },
  { links, layout, change: 'chown 12:34 b', expected: 'a 2 644 12:34 3\nb 2 644 12:34 3\none-inode' },
  { links, layout, change: 'truncate -s 10 b', expected: 'a 2 644 0:0 10\nb 2 644 0:0 10\none-inode' },
  { links, layout, change: 'printf hello >> b', expected: 'a 2 644 0:0 8\nb 2 644 0:0 8\none-inode' },
  { links, layout, change: 'printf xy | dd of=b conv=notrunc status=none && cat a', expected: 'xyca 2 644 0:0 3\nb 2 644 0:0 3\none-inode' },
  { links, layout, change: 'rm b', expected: 'a 1 644 0:0 3' },
  { links, layout, change: 'echo y > x && mv x b', expected: 'a 1 644 0:0 3\nb 1 644 0:0 2\ntwo-inodes' },
  { links, layout, change: 'ln b c', expected: 'a 3 644 0:0 3\nb 3 644 0:0 3\nc 3 644 0:0 3\none-inode' },
  { links, layout, change: 'mv b c', expected: 'a 2 644 0:0 3\nc 2 644 0:0 3' },
  { links, layout, change: 'rm a && chmod 640 b', expected: 'b 1 640 0:0 3' },
];

// Kernel overlayfs gives the broken-off copy its own inode number; layerfs's
// node keeps the lower file's number (nodes.ts: "the reported inode number is
// the node's first one"), so two different files show one st_ino.

const rows: Row[] = [
  ...changes('made in the mount', inMount),
  ...changes('in the upper dir at mount time', inUpper),
  { links: 'in the lower layer', layout: inLower, change: ':', expected: 'a 2 644 0:0 3\nb 2 644 0:0 3\none-inode' },
  { links: 'in the lower layer', layout: inLower, change: 'chmod 700 b', expected: 'a 2 644 0:0 3\nb 1 700 0:0 3\ntwo-inodes' },
  { links: 'in the lower layer', layout: inLower, change: 'printf d >> b && cat a', expected: 'abca 2 644 0:0 3\nb 1 644 0:0 4\ntwo-inodes' },
];

describe('a change through one hard link shows through the other at once', () => {
  for (const row of rows) {
    for (const side of ['kernel', 'layerfs'] as const) {
      const test = it;
      test(`${side}: links ${row.links}: ${row.change}`, async () => {
        const f = await freshMount(root, side, row.layout);
        expect(await sh(`${row.layout.setup} && ${row.change} && { ${REPORT}; }`, f.mnt)).toEqual({ code: 0, out: `${row.expected}\n` });
      });
    }
  }
});

describe('engine=fuse-native (libfuse 2: one kernel inode per path)', () => {
  it('shows the new link count on the old name within attr_timeout (1 s), not later', async () => {
    const f = await freshMount(root, 'fuse-native', { lower: { a: 'x' } });
    expect(await sh('stat -c %h a && ln a b && stat -c %h b', f.mnt)).toEqual({ code: 0, out: '1\n2\n' });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await sh('stat -c %h a && [ "$(stat -c %i a)" = "$(stat -c %i b)" ]', f.mnt)).toEqual({ code: 0, out: '2\n' });
  });
});

describe('data written through one hard link is read through the other at once (no stale page cache)', () => {
  it.each(['layerfs', 'fuse-native'] as const)('%s', async (side) => {
    const f = await freshMount(root, side, { lower: { a: 'original\n' } });
    // b's pages are cached; then a same-size write in place: only the mtime could tell a per-path cache.
    const script = "ln a b && cat b && printf 'CHANGED!\\n' | dd of=a conv=notrunc status=none && cat b";
    expect(await sh(script, f.mnt)).toEqual({ code: 0, out: 'original\nCHANGED!\n' });
  });
});
