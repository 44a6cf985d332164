/**
 * Inode numbers across copy-up and a remount (xfstests overlay/017), with
 * kernel overlayfs as the oracle: each row changes a fresh overlay through one
 * mount (the maker), then mounts the same layers again (the reader) and prints,
 * for each name, whether it shows its lower entry's number, its upper file's,
 * or another. All four maker/reader pairs must print the row's expectation, so
 * layerfs reads the kernel's `trusted.overlay.origin` and the kernel ours.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountKernel, mountLayerfs, sh, unmount, unmountAll } from '../helpers/mounts.js';
import { makeTree, type TreeSpec } from '../helpers/tree.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-origin-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Row {
  name: string;
  lower: TreeSpec;
  upper?: TreeSpec;
  /** Run in the mount by the maker. */
  change: string;
  /** Name in the mount -> the lower entry it came from. */
  show: Record<string, string>;
  /** Per shown name: `lower`, `upper` or `other`; the same after the change and after the remount. */
  expected: string;
}

const rows: Row[] = [
  { name: 'a file, appended to', lower: { f: 'a\n' }, change: 'echo x >> f', show: { f: 'f' }, expected: 'f lower' },
  { name: 'a directory, touched', lower: { d: { type: 'dir' } }, change: 'touch d', show: { d: 'd' }, expected: 'd lower' },
  {
    name: 'a file in a directory copied up with it', lower: { 'd/g': 'b\n' }, change: 'echo y >> d/g',
    show: { d: 'd', 'd/g': 'd/g' }, expected: 'd lower\nd/g lower',
  },
  {
    name: 'a lower hard link, appended to', lower: { hl: 'h\n', hl2: { type: 'hardlink', to: 'hl' } }, change: 'echo z >> hl',
    show: { hl: 'hl', hl2: 'hl2' }, expected: 'hl upper\nhl2 lower',
  },
  { name: 'a symlink, touched', lower: { f: 'a\n', s: { type: 'symlink', target: 'f' } }, change: 'touch -h s', show: { s: 's' }, expected: 's lower' },
  { name: 'a FIFO, chmod', lower: { p: { type: 'fifo' } }, change: 'chmod 600 p', show: { p: 'p' }, expected: 'p lower' },
  { name: 'a file renamed', lower: { f: 'a\n' }, change: 'mv f g', show: { g: 'f' }, expected: 'g lower' },
  { name: 'a file moved into a new directory', lower: { f: 'a\n' }, change: 'mkdir n && mv f n/f', show: { 'n/f': 'f' }, expected: 'n/f lower' },
  {
    name: 'a copied-up file linked again in the upper layer', lower: { f: 'a\n' }, change: 'echo x >> f && ln f f2',
    show: { f: 'f', f2: 'f' }, expected: 'f lower\nf2 lower',
  },
  {
    name: 'an upper directory over a lower one, no origin', lower: { e: { type: 'dir' } }, upper: { e: { type: 'dir' } }, change: ':',
    show: { e: 'e' }, expected: 'e lower',
  },
  { name: 'an upper file over a lower one, no origin', lower: { x: 'l\n' }, upper: { x: 'u\n' }, change: ':', show: { x: 'x' }, expected: 'x upper' },
  { name: 'a file removed and made again', lower: { f: 'a\n' }, change: 'rm f && echo n > f', show: { f: 'f' }, expected: 'f upper' },
  { name: 'a directory removed and made again (opaque)', lower: { 'd/g': 'b\n' }, change: 'rm -r d && mkdir d', show: { d: 'd' }, expected: 'd upper' },
];

/** With metacopy=on on both sides: metadata-only copies carry an origin too, and keep it when completed. */
const metacopyRows: Row[] = [
  { name: 'a metacopy file (chmod)', lower: { f: 'a\n' }, change: 'chmod 600 f', show: { f: 'f' }, expected: 'f lower' },
  { name: 'a metacopy file completed by an append', lower: { f: 'a\n' }, change: 'chmod 600 f && echo x >> f', show: { f: 'f' }, expected: 'f lower' },
  {
    name: 'a metacopy lower hard link', lower: { hl: 'h\n', hl2: { type: 'hardlink', to: 'hl' } }, change: 'chmod 600 hl',
    show: { hl: 'hl', hl2: 'hl2' }, expected: 'hl upper\nhl2 lower',
  },
];

type Side = 'kernel' | 'layerfs';

/** For each shown name: which number it shows; then whether `ls -i` (d_ino) agrees with stat in each listed dir. */
function report(show: Record<string, string>): string {
  const lines = Object.entries(show).map(([m, l]) =>
    `i=$(stat -c %i mnt/${m}); if [ "$i" = "$(stat -c %i lower/${l})" ]; then echo "${m} lower"; ` +
    `elif [ "$i" = "$(stat -c %i upper/${m})" ]; then echo "${m} upper"; else echo "${m} other"; fi`);
  const dirs = [...new Set(Object.keys(show).map((m) => (m.includes('/') ? m.slice(0, m.lastIndexOf('/')) : '.')))];
  const agree = dirs.map((d) =>
    `for n in $(ls -A mnt/${d}); do [ "$(ls -id mnt/${d}/$n | cut -d' ' -f1)" = "$(ls -ia mnt/${d} | awk -v n=$n '$2==n{print $1}')" ] || echo "d_ino differs: ${d}/$n"; done`);
  return [...lines, ...agree].join('\n');
}

let count = 0;

async function mountSide(side: Side, dir: string, metacopy: boolean): Promise<void> {
  const layers = { lowerdirs: [join(dir, 'lower')], upperdir: join(dir, 'upper'), workdir: join(dir, 'work') };
  if (side === 'kernel') await mountKernel(layers, join(dir, 'mnt'), { metacopy });
  else await mountLayerfs(layers, join(dir, 'mnt'), metacopy ? ['metacopy=on'] : []);
}

const table: Array<[string, Row[], boolean]> = [['', rows, false], ['metacopy=on: ', metacopyRows, true]];

describe('inode numbers survive copy-up and a remount', () => {
  for (const [title, tableRows, metacopy] of table) for (const row of tableRows) {
    for (const [maker, reader] of [['kernel', 'kernel'], ['layerfs', 'layerfs'], ['layerfs', 'kernel'], ['kernel', 'layerfs']] as const) {
      it(`${title}${maker} then ${reader}: ${row.name}`, async () => {
        const dir = join(root, `${count++}`);
        makeTree(join(dir, 'lower'), row.lower);
        makeTree(join(dir, 'upper'), row.upper ?? {});
        for (const d of ['work', 'mnt']) mkdirSync(join(dir, d));
        await mountSide(maker, dir, metacopy);
        const changed = await sh(`cd mnt && { ${row.change}; } && cd .. && ${report(row.show)}`, dir);
        await unmount(join(dir, 'mnt'));
        await mountSide(reader, dir, metacopy);
        const remounted = await sh(report(row.show), dir);
        expect({ changed, remounted }).toEqual({
          changed: { code: 0, out: `${row.expected}\n` },
          remounted: { code: 0, out: `${row.expected}\n` },
        });
      });
    }
  }
});
