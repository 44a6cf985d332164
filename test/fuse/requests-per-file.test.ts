/**
 * What the kernel sends the engine per file, counted by the engine itself
 * (LAYERFS_FUSE_STATS, native-notes/fuse-engine.md): a compile-like scan of
 * small lower files costs one LOOKUP, OPEN, READ and RELEASE per file, and no
 * GETATTR (attributes come with the lookup and are kept) and no FLUSH (ENOSYS
 * once, then never sent). A second pass costs a GETATTR (for the atime), OPEN
 * and RELEASE: the entry is kept and so are the pages (FOPEN_KEEP_CACHE). These are the
 * counts fuse-overlayfs gets too (bench/fuse-trace.ts); a change that adds a
 * request per file shows here before it shows in the bench.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { OP } from '../../src/fuse/protocol.js';
import { freshMount, py } from '../helpers/fresh-mount.js';
import { unmountAll } from '../helpers/mounts.js';
import type { TreeSpec } from '../helpers/tree.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-perfile-'));
afterEach(unmountAll);
afterAll(() => {
  delete process.env.LAYERFS_FUSE_STATS;
  rmSync(root, { recursive: true, force: true });
});

const FILES = 200;
const path = (i: number) => `d${Math.floor(i / 100)}/f${i % 100}`;
const lower: TreeSpec = {};
for (let i = 0; i < FILES; i++) lower[path(i)] = 'x'.repeat(4096);

/** lstat of every file, and with `read` open + read to EOF + close; `passes` times. */
const SCAN = `
import os, sys
n, passes, read = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == 'read'
for _ in range(passes):
    for i in range(n):
        p = 'd%d/f%d' % (i // 100, i % 100)
        os.lstat(p)
        if read:
            fd = os.open(p, os.O_RDONLY)
            while os.read(fd, 65536): pass
            os.close(fd)
`;

type Counts = Partial<Record<keyof typeof OP, number>>;

const rows: Array<{ scan: string; passes: number; read: boolean; perFile: Counts }> = [
  { scan: 'lstat', passes: 1, read: false, perFile: { LOOKUP: 1 } },
  { scan: 'lstat + open + read + close', passes: 1, read: true, perFile: { LOOKUP: 1, OPEN: 1, READ: 1, RELEASE: 1 } },
  // The second lstat asks for attributes again: a READ makes the kernel drop
  // the atime it had (fuse_invalidate_atime), on any read-write FUSE mount.
  { scan: 'lstat + open + read + close, twice', passes: 2, read: true, perFile: { LOOKUP: 1, GETATTR: 1, OPEN: 2, READ: 1, RELEASE: 2 } },
];

/** The engine's stats line, once the daemon has ended: requests by opcode name. */
async function stats(file: string): Promise<Counts> {
  // The daemon appends its line as it ends: wait for the whole line, not only the file.
  const read = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  for (let i = 0; i < 200 && !read().endsWith('\n'); i++) await new Promise((r) => setTimeout(r, 50));
  const line = read().trim();
  const names = new Map<number, keyof typeof OP>(Object.entries(OP).map(([name, op]) => [op, name as keyof typeof OP]));
  const counts: Counts = {};
  for (const [, op, n] of line.matchAll(/ op(\d+) (\d+)/g)) {
    const name = names.get(Number(op));
    if (name !== undefined) counts[name] = Number(n);
  }
  return counts;
}

it.each(rows)('$scan of $passes pass(es): requests per file', async ({ passes, read, perFile }) => {
  const file = join(root, `stats-${Date.now()}-${Math.random()}`);
  process.env.LAYERFS_FUSE_STATS = file;
  // A daemon of its own: the engine reads the variable from its environment at mount.
  const f = await freshMount(root, 'layerfs', { lower }, ['daemon=own']);
  delete process.env.LAYERFS_FUSE_STATS;
  const r = await py(SCAN, f.mnt, [String(FILES), String(passes), read ? 'read' : 'stat']);
  expect(r).toEqual({ code: 0, out: '' });
  await unmountAll();
  const counts = await stats(file);
  // Per file, rounded: the mount's own few requests (INIT, the root, the two directories) round away.
  const shown: Counts = {};
  for (const [name, n] of Object.entries(counts)) {
    const per = Math.round(n / FILES);
    if (per > 0) shown[name as keyof typeof OP] = per;
  }
  expect(shown).toEqual(perFile);
});
