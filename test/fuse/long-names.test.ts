/**
 * Names of NAME_MAX (255) bytes work through the mount for every operation
 * that takes a name; 256 bytes is ENAMETOOLONG (the FUSE kernel module lets
 * names up to 1024 bytes through, so the answer is ours). Each row runs on
 * kernel overlayfs and on layerfs, and both must print the same: the script's
 * output, then every entry of the mount as `type length-of-name`.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, unmountAll } from '../helpers/mounts.js';
import { freshMount, py, type Layout, type Side } from '../helpers/fresh-mount.js';
import type { TreeSpec } from '../helpers/tree.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-names-'));
afterEach(unmountAll);
// rm(1) walks with openat: the deep rows' trees are longer than PATH_MAX, which rmSync cannot remove.
afterAll(() => execFileSync('rm', ['-rf', root]));

const N = 'a'.repeat(255);
const M = 'b'.repeat(255);
/** The shell names: $N and $M are 255 bytes, $L is 256. */
const NAMES = `N=${N}; M=${M}; L=$(printf '%0256d' 0 | tr 0 c)`;
const LIST = "find . -mindepth 1 -printf '%y %f\\n' | awk '{ print $1, length($2) }' | sort";
const tooLong = (cmd: string) => `{ ${cmd}; } 2>&1 | grep -o 'File name too long'`;

const inLower = (spec: TreeSpec): Layout => ({ lower: spec });

interface Row { op: string; layout?: Layout; script: string; expected: string; /** What layerfs prints where it differs on purpose. */ layerfs?: string }

const rows: Row[] = [
  { op: 'create', script: ': > $N && cat $N', expected: 'f 255' },
  { op: 'mkdir, and a file inside', script: 'mkdir $N && echo x > $N/$M && cat $N/$M', expected: 'x\nd 255\nf 255' },
  { op: 'mkfifo', script: 'mkfifo $N', expected: 'p 255' },
  { op: 'mknod', script: 'mknod $N c 1 3', expected: 'c 255' },
  { op: 'symlink', script: 'ln -s $N $M && readlink $M | wc -c', expected: '256\nl 255' },
  { op: 'link', script: ': > $N && ln $N $M && stat -c %h $M', expected: '2\nf 255\nf 255' },
  { op: 'rename', script: ': > $N && mv $N $M', expected: 'f 255' },
  { op: 'rename of a lower file (copy-up, whiteout)', layout: inLower({ [N]: 'lower' }), script: 'mv $N $M && cat $M', expected: 'lowerf 255' },
  {
    op: 'chmod, chown, truncate of a lower file (copy-up)',
    layout: inLower({ [N]: 'lower' }),
    script: 'chmod 600 $N && chown 1:2 $N && truncate -s 2 $N && stat -c "%a %u:%g %s" $N && cat $N',
    expected: '600 1:2 2\nlof 255',
  },
  { op: 'unlink of a lower file (whiteout)', layout: inLower({ [N]: 'lower' }), script: 'rm $N && ls', expected: '' },
  { op: 'rmdir of a lower dir (whiteout)', layout: inLower({ [`${N}/`]: { type: 'dir' } }), script: 'rmdir $N && ls', expected: '' },
  // redirect_dir=off: EXDEV, and mv copies the tree to the new name instead.
  { op: 'rename of a lower dir', layout: inLower({ [`${N}/f`]: 'x' }), script: 'mv $N $M && cat $M/f', expected: 'xd 255\nf 1' },
  {
    // No limit on a whole path: 17 levels of 255-byte names, named from a working directory that deep (pjdfstest's 03.t files).
    op: 'a path of more than PATH_MAX bytes inside the mount',
    // perl, as sh's cd keeps a logical path of its own and refuses one past PATH_MAX.
    script: `perl -e 'for (1..17) { mkdir $ARGV[0] or die; chdir $ARGV[0] or die } exec "echo x > f && cat f && mkfifo p && ln -s t l && mv f g && rm l"' $N`,
    expected: `x\n${'d 255\n'.repeat(17)}f 1\np 1`,
  },
  {
    op: 'every op with a 256-byte name',
    script: [': > $L', 'mkdir $L', 'mkfifo $L', 'ln -s x $L', 'stat $L', ': > $N && ln $N $L', 'mv $N $L'].map(tooLong).join(' && '),
    expected: `${'File name too long\n'.repeat(7)}f 255`,
  },
];

describe('255-byte names work, 256 bytes is ENAMETOOLONG', () => {
  for (const row of rows) {
    for (const side of ['kernel', 'layerfs'] as const) {
      const test = it;
      test(`${side}: ${row.op}`, async () => {
        const f = await freshMount(root, side, row.layout);
        const r = await sh(`${NAMES}; { ${row.script}; } && ${LIST}`, f.mnt);
        expect(r).toEqual({ code: 0, out: row.expected ? `${row.expected}\n` : '' });
      });
    }
  }
});

/** Names as bytes, through Python: multibyte UTF-8 and bytes that are not UTF-8. */
const byteRows: Row[] = [
  {
    op: 'a 255-byte name of 2-byte characters',
    script: "n = ('é' * 127 + 'a').encode()\nopen(n, 'w').write('x')\nprint(len(n), os.listdir(b'.') == [n], open(n).read())\ntry:\n    open(('é' * 128).encode(), 'w')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])",
    expected: '255 True x\nENAMETOOLONG\n',
  },
  {
    // The overlay works on strings: layerfs refuses a name that is not UTF-8
    // (EILSEQ) rather than store it under another name. The kernel keeps it.
    op: 'a name that is not UTF-8 is kept (kernel) or refused (layerfs)',
    layout: inLower({}),
    script: "n = b'\\xffname\\xfe'\ntry:\n    open(n, 'w').write('x')\n    print(os.listdir(b'.') == [n], open(n).read())\nexcept OSError as e:\n    print(errno.errorcode[e.errno], os.listdir(b'.'))",
    expected: 'True x\n',
    layerfs: 'EILSEQ []\n',
  },
];

describe('names as bytes', () => {
  for (const row of byteRows) {
    for (const side of ['kernel', 'layerfs'] as const) {
      const test = it;
      test(`${side}: ${row.op}`, async () => {
        const f = await freshMount(root, side, row.layout);
        const out = side === 'layerfs' ? row.layerfs ?? row.expected : row.expected;
        expect(await py(`import os, errno\n${row.script}`, f.mnt)).toEqual({ code: 0, out });
      });
    }
  }
});
