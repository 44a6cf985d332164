/**
 * A directory of 5000 entries (half from the lower layer, half made through
 * the mount; files, dirs, symlinks and FIFOs) lists completely, with the right
 * d_type, through readdir (`ls -f`, Python's scandir) and readdirplus (`ls -l`,
 * the first listing after a change). The engine opens directories with
 * FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE, so the kernel keeps a listing across
 * opens: after half the entries are removed and new ones made, every listing
 * must show the change.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountAll } from '../helpers/mounts.js';
import { freshMount, py } from '../helpers/fresh-mount.js';
import type { TreeSpec } from '../helpers/tree.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-readdir-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HALF = 2500;
const TYPES = ['f', 'd', 'l', 'p'] as const; // by index % 4
const name = (prefix: string, i: number) => `${prefix}${String(i).padStart(4, '0')}`;

const lower: TreeSpec = { 'big/': { type: 'dir' } };
for (let i = 0; i < HALF; i++) {
  const t = TYPES[i % 4];
  const p = `big/${name('lower', i)}`;
  lower[p] = t === 'f' ? 'x' : t === 'd' ? { type: 'dir' } : t === 'l' ? { type: 'symlink', target: 'x' } : { type: 'fifo' };
}

/**
 * Makes `upper0000`..., lists three ways, removes every even entry and makes
 * `new0000`..., lists three ways again. Prints one JSON object per round:
 * scandir's [d_type, name], `ls -f`'s names, and `ls -ln`'s [type, name].
 */
const PROGRAM = `
import json, os, subprocess, sys
half, new = int(sys.argv[1]), int(sys.argv[2])
os.chdir('big')
def make(prefix, i):
    p = '%s%04d' % (prefix, i)
    t = i % 4
    if t == 0: open(p, 'w').write('x')
    elif t == 1: os.mkdir(p)
    elif t == 2: os.symlink('x', p)
    else: os.mkfifo(p)
def kind(e):
    return 'l' if e.is_symlink() else 'd' if e.is_dir(follow_symlinks=False) else 'f' if e.is_file(follow_symlinks=False) else 'p'
def lists():
    long = subprocess.run(['ls', '-ln'], capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    plus = sorted(([l[0].replace('-', 'f'), l.split()[8]] for l in long), key=lambda e: e[1])
    scan = sorted(([kind(e), e.name] for e in os.scandir('.')), key=lambda e: e[1])
    names = sorted(subprocess.run(['ls', '-f'], capture_output=True, text=True, check=True).stdout.split())
    print(json.dumps({'scandir': scan, 'ls -f': names, 'ls -ln': plus}))
for i in range(half): make('upper', i)
lists()
for e in sorted(os.listdir('.')):
    if int(e[-4:]) % 2 == 0:
        (os.rmdir if os.path.isdir(e) and not os.path.islink(e) else os.unlink)(e)
for i in range(new): make('new', i)
lists()
`;

function expected(entries: Array<[string, string]>) {
  const sorted = entries.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return { scandir: sorted, 'ls -f': ['.', '..', ...sorted.map((e) => e[1])].sort(), 'ls -ln': sorted };
}

it('5000 entries list completely, and changes show in the next listing', async () => {
  const f = await freshMount(root, 'layerfs', { lower });
  const r = await py(PROGRAM, f.mnt, [String(HALF), '1000']);
  expect(r.code, r.out.slice(0, 2000)).toBe(0);
  const [first, second] = r.out.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  const all = (prefix: string, n: number, keep: (i: number) => boolean) =>
    Array.from({ length: n }, (_, i) => i).filter(keep).map((i): [string, string] => [TYPES[i % 4]!, name(prefix, i)]);
  expect(first).toEqual(expected([...all('lower', HALF, () => true), ...all('upper', HALF, () => true)]));
  const odd = (i: number) => i % 2 === 1;
  expect(second).toEqual(expected([...all('lower', HALF, odd), ...all('upper', HALF, odd), ...all('new', 1000, () => true)]));
});
