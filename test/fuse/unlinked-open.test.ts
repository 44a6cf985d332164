/**
 * Files no name leads to any more, still open: unlinked, or replaced by a
 * rename onto their name. The engine keeps such a node and reaches the file
 * through the fds it holds (nodes.ts, engine.ts setattrUnlinked); everything
 * done through the fd must work as on kernel overlayfs. Each row runs a small
 * Python program in the mount on both, and both must print the same.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountAll } from '../helpers/mounts.js';
import { freshMount, py, type Layout, type Side } from '../helpers/fresh-mount.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-unlinked-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `attempt(label, f)` prints f's result, or the errno it raised; `fst(fd)` the stat we compare. */
const PRELUDE = `
import os, errno
def fst(fd):
    s = os.fstat(fd)
    return '%d %o %d:%d %d' % (s.st_nlink, s.st_mode & 0o7777, s.st_uid, s.st_gid, s.st_size)
def attempt(label, f):
    try:
        r = f()
        print(label, 'ok' if r is None else r)
    except OSError as e:
        print(label, errno.errorcode[e.errno])
def through(fd):
    attempt('fstat', lambda: fst(fd))
    attempt('read', lambda: os.pread(fd, 100, 0))
    attempt('write', lambda: os.pwrite(fd, b'HELLO!', 0))
    attempt('fchmod', lambda: os.fchmod(fd, 0o600))
    attempt('fchown', lambda: os.fchown(fd, 7, 8))
    attempt('ftruncate', lambda: os.ftruncate(fd, 4))
    attempt('futimes', lambda: os.utime(fd, (100, 200)))
    attempt('fstat', lambda: fst(fd) + ' %d' % os.fstat(fd).st_mtime)
    attempt('reopen', lambda: open('/proc/self/fd/%d' % fd, 'rb').read())
    attempt('listdir', lambda: sorted(os.listdir('.')))
`;

/** What `through` prints for a writable fd on a 5-byte 'hello' with `nlink` names left. */
const writable = (nlink: number, names: string) => `fstat ${nlink} 644 0:0 5
read b'hello'
write 6
fchmod ok
fchown ok
ftruncate ok
futimes ok
fstat ${nlink} 600 7:8 4 200
reopen b'HELL'
listdir ${names}
`;

interface Row {
  name: string;
  layout?: Layout;
  program: string;
  expected: string;
}

const rows: Row[] = [
  {
    name: 'a file made in the mount, open read-write, unlinked',
    program: "open('f', 'w').write('hello')\nfd = os.open('f', os.O_RDWR)\nos.unlink('f')\nthrough(fd)",
    expected: writable(0, '[]'),
  },
  {
    name: 'a lower file, open read-write (copied up), unlinked',
    layout: { lower: { f: 'hello' } },
    program: "fd = os.open('f', os.O_RDWR)\nos.unlink('f')\nthrough(fd)",
    expected: writable(0, '[]'),
  },
  {
    name: 'an upper file, open read-write, replaced by rename y f',
    layout: { upper: { f: 'hello', y: 'yy' } },
    program: "fd = os.open('f', os.O_RDWR)\nos.rename('y', 'f')\nthrough(fd)\nprint(open('f').read(), oct(os.stat('f').st_mode & 0o777))",
    expected: `${writable(0, "['f']")}yy 0o644\n`,
  },
  {
    name: 'a lower file, open read-write, replaced by rename y f',
    layout: { lower: { f: 'hello', y: 'yy' } },
    program: "fd = os.open('f', os.O_RDWR)\nos.rename('y', 'f')\nthrough(fd)\nprint(open('f').read())",
    expected: `${writable(0, "['f']")}yy\n`,
  },
  {
    name: 'one of two hard links unlinked while open',
    program: "open('f', 'w').write('hello')\nos.link('f', 'g')\nfd = os.open('f', os.O_RDWR)\nos.unlink('f')\nthrough(fd)",
    expected: writable(1, "['g']"),
  },
  {
    name: 'two fds, one closed after the unlink: the other still works',
    program: "open('f', 'w').write('hello')\na = os.open('f', os.O_RDWR)\nb = os.open('f', os.O_RDWR)\nos.unlink('f')\nos.close(a)\nthrough(b)",
    expected: writable(0, '[]'),
  },
  {
    // fchmod, fchown and futimes need no write access to the fd: kernel overlayfs
    // allows them. The engine looks for a writable fd of the node for every
    // change (setattrUnlinked → openFd(node, true)) and answers ENOENT.
    name: 'a file open read-only, unlinked',
    program: "open('f', 'w').write('hello')\nfd = os.open('f', os.O_RDONLY)\nos.unlink('f')\nthrough(fd)",
    expected: `fstat 0 644 0:0 5
read b'hello'
write EBADF
fchmod ok
fchown ok
ftruncate EINVAL
futimes ok
fstat 0 600 7:8 5 200
reopen b'hello'
listdir []
`,
  },
  {
    // Kernel overlayfs lists a removed directory that is still open as empty;
    // the engine's OPENDIR needs a path (pathOf) and answers ENOENT.
    name: 'a removed directory that is the cwd: stat, and an empty listing',
    program: "os.mkdir('d')\nos.chdir('d')\nos.rmdir('../d')\nattempt('stat', lambda: os.stat('.').st_nlink)\nattempt('listdir', lambda: os.listdir('.'))\nattempt('create', lambda: os.open('x', os.O_CREAT | os.O_WRONLY))",
    expected: 'stat 0\nlistdir []\ncreate ENOENT\n',
  },
];

describe('an open file whose name is gone works through its fd', () => {
  for (const row of rows) {
    for (const side of ['kernel', 'layerfs'] as const) {
      const test = it;
      test(`${side}: ${row.name}`, async () => {
        const f = await freshMount(root, side, row.layout);
        expect(await py(PRELUDE + row.program, f.mnt)).toEqual({ code: 0, out: row.expected });
      });
    }
  }
});
