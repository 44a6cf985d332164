/**
 * A file is one node with one inode number for as long as the mount lives:
 * through copy-up, through renames, and after the kernel forgot its inode
 * (drop_caches evicts unused dentries and inodes, and the kernel sends FORGET
 * for each) and looks the name up again. Each row runs on kernel overlayfs and
 * on layerfs, and both must print the same.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, unmountAll } from '../helpers/mounts.js';
import { DROP_CACHES, freshMount, py, type Layout, type Side } from '../helpers/fresh-mount.js';
import type { TreeSpec } from '../helpers/tree.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-nodes-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `keeps NAME`: prints whether NAME has the inode number remembered in $i. */
const KEEPS = `keeps() { [ "$(stat -c %i "$1")" = "$i" ] && echo same || echo changed; }`;

interface Row { name: string; layout?: Layout; script: string; expected: string }

const lowerF: Layout = { lower: { f: 'lower\n', 'd/g': 'in d\n' } };

// The engine reports a node's first inode number (nodes.ts); after a FORGET
// (drop_caches, or memory pressure) the name is looked up into a new node,
// which shows the copy's origin's number (trusted.overlay.origin, as the
// kernel). Across a remount: test/fuse/origin.test.ts.

const rows: Row[] = [
  { name: 'a lower file, copied up by chmod', layout: lowerF, script: 'i=$(stat -c %i f); chmod 600 f; keeps f', expected: 'same' },
  { name: 'a lower file, copied up by an append', layout: lowerF, script: 'i=$(stat -c %i f); echo more >> f; keeps f; cat f', expected: 'same\nlower\nmore' },
  { name: 'a lower file, copied up by a rename', layout: lowerF, script: 'i=$(stat -c %i f); mv f g; keeps g', expected: 'same' },
  { name: 'a lower file in a lower dir, copied up by chmod', layout: lowerF, script: 'i=$(stat -c %i d/g); chmod 600 d/g; keeps d/g', expected: 'same' },
  { name: 'a file made in the mount, renamed twice', script: 'echo x > f; i=$(stat -c %i f); mv f g; mkdir d; mv g d/h; keeps d/h', expected: 'same' },
  { name: 'a dir made in the mount, renamed, and a file in it', script: 'mkdir d; echo x > d/f; i=$(stat -c %i d/f); mv d e; keeps e/f; cat e/f', expected: 'same\nx' },
  { name: 'a file made in the mount, after a forget', script: `echo x > f; i=$(stat -c %i f); ${DROP_CACHES}; keeps f`, expected: 'same' },
  { name: 'a lower file never copied up, after a forget', layout: lowerF, script: `i=$(stat -c %i f); ${DROP_CACHES}; keeps f`, expected: 'same' },
  { name: 'a dir renamed after its files were forgotten', script: `mkdir d; echo x > d/f; cat d/f; ${DROP_CACHES}; mv d e; cat e/f; ${DROP_CACHES}; cat e/f`, expected: 'x\nx\nx' },
  { name: 'hard links, after a forget: one inode again', script: `echo x > f; ln f g; ${DROP_CACHES}; stat -c '%h %i' g > gi; stat -c '%h %i' f | cmp - gi && stat -c %h f`, expected: '2' },
  { name: 'a lower file copied up by chmod, after a forget', layout: lowerF, script: `i=$(stat -c %i f); chmod 600 f; ${DROP_CACHES}; keeps f`, expected: 'same' },
  { name: 'a lower file copied up by a rename, after a forget', layout: lowerF, script: `i=$(stat -c %i f); mv f g; ${DROP_CACHES}; keeps g`, expected: 'same' },
];

describe('a file keeps its node and inode number', () => {
  for (const row of rows) {
    for (const side of ['kernel', 'layerfs'] as const) {
      const test = it;
      test(`${side}: ${row.name}`, async () => {
        const f = await freshMount(root, side, row.layout);
        expect(await sh(`${KEEPS}; ${row.script}`, f.mnt)).toEqual({ code: 0, out: `${row.expected}\n` });
      });
    }
  }
});

/** 1000 lower files in 10 dirs, each holding its own path. */
const manyLower: TreeSpec = {};
for (let d = 0; d < 10; d++) for (let i = 0; i < 100; i++) manyLower[`lower${d}/f${i}`] = `lower${d}/f${i}`;

/**
 * Looks up 2100 files (1000 lower, 1000 made here, 100 more names as hard
 * links, a renamed dir), has the kernel forget them all, and walks again:
 * every name, inode number, link count, size and content must be as before.
 */
const FORGET_ALL = `
import os
def drop():
    os.sync()
    open('/proc/sys/vm/drop_caches', 'w').write('2')
def walk():
    seen = {}
    for top, dirs, files in os.walk('.'):
        for n in files:
            p = os.path.join(top, n)
            s = os.lstat(p)
            seen[p] = (s.st_ino, s.st_nlink, s.st_size, open(p).read())
    return seen
made = []
for d in range(10):
    os.mkdir('made%d' % d)
    for i in range(100):
        p = 'made%d/f%d' % (d, i)
        open(p, 'w').write(p)
        made.append(p)
for p in made[::10]:
    os.link(p, p + '.link')
os.rename('made9', 'renamed')
before = walk()
drop()
after = walk()
links = sum(1 for v in after.values() if v[1] == 2)
print(len(after), links, before == after)
drop()
print(all(open(p).read() == p.replace('renamed', 'made9')[2:] for p in after if not p.endswith('.link')))
`;

describe('the kernel forgets thousands of nodes, and looks them up again', () => {
  it.each(['kernel', 'layerfs'] as const)('%s', async (side) => {
    const f = await freshMount(root, side, { lower: manyLower });
    expect(await py(FORGET_ALL, f.mnt)).toEqual({ code: 0, out: '2100 200 True\nTrue\n' });
  });
});
