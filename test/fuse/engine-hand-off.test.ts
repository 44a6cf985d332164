/**
 * The engine's hand-off (native-notes/fuse-engine.md, "Threads and the
 * hand-off to JS"): while the JS thread is awake the reader threads wait out
 * of read(2) and JS reads the kernel's queue itself. A JS handler that blocks
 * the thread for long must still not hold up I/O on open files: a reader that
 * sees JS awake and not polling for 2 ms reads and answers meanwhile.
 *
 * On a real mount of a tiny filesystem served in this process by the engine
 * (passthrough off, so reads come to the engine; one reader thread; JS polls
 * for 100 ms): a child opens a file and looks up a few names, so the JS
 * thread is awake and the reader parked; then one of its threads looks up
 * `/slow`, whose handler holds the JS thread for SLOW_MS, while another reads
 * the file at offsets the page cache cannot have. The reads must finish long
 * before the lookup does.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FsError } from '../../src/errors.js';
import type { FuseOps } from '../../src/fuse/binding.js';
import { mountEngine } from '../../src/fuse/engine.js';
import { lstat } from '../../src/sys.js';

const SLOW_MS = 1500;
const base = mkdtempSync(join(tmpdir(), 'layerfs-handoff-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const PROGRAM = `
import json, os, sys, threading, time
mnt = sys.argv[1]
fd = os.open(mnt + '/data', os.O_RDONLY)
for i in range(5):  # keeps the JS thread awake; the reader thread parks
    try: os.stat(mnt + '/x%d' % i)
    except OSError: pass
ends = {}
def slow():
    try: os.stat(mnt + '/slow')
    except OSError: pass
    ends['slow'] = time.monotonic()
t = threading.Thread(target=slow)
start = time.monotonic()
t.start()
time.sleep(0.2)
for off in range(0, 8 << 20, 2 << 20):
    assert len(os.pread(fd, 4096, off)) == 4096
ends['reads'] = time.monotonic()
t.join()
print(json.dumps({k: (v - start) * 1000 for k, v in ends.items()}))
`;

it(`a handler holding the JS thread for ${SLOW_MS} ms does not hold up reads of an open file`, async () => {
  const real = join(base, 'data');
  writeFileSync(real, Buffer.alloc(8 << 20, 1));
  const mnt = join(base, 'mnt');
  mkdirSync(mnt);
  const ops: FuseOps = {
    getattr: (path) => {
      if (path === '/') return lstat(base)!;
      if (path === '/data') return lstat(real)!;
      if (path === '/slow') {
        // performance.now(), not Date.now(): whole milliseconds would end the wait up to 1 ms early.
        for (const end = performance.now() + SLOW_MS; performance.now() < end;) { /* the JS thread is busy */ }
      }
      throw new FsError('ENOENT', 'lstat', path);
    },
    readdir: () => ({ names: ['data'] }),
    open: () => openSync(real, 'r'),
    create: () => {
      throw new FsError('EROFS', 'create', '/');
    },
    release: (_path, fh) => closeSync(fh),
  };
  const mount = await mountEngine(mnt, ops, {
    fsname: 'layerfs-handoff', readonly: true, entryTimeout: 1, attrTimeout: 1, negativeTimeout: 0, threads: 1,
    passthrough: false, spinMs: 100, allowOther: false, suid: false, dev: false, log: () => {},
  });
  try {
    const out = await new Promise<string>((resolve, reject) =>
      execFile('python3', ['-c', PROGRAM, mnt], { cwd: '/' }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))));
    const ms = JSON.parse(out) as { reads: number; slow: number };
    expect(ms.slow).toBeGreaterThan(SLOW_MS);
    expect(ms.reads).toBeLessThan(ms.slow - SLOW_MS / 2);
  } finally {
    await mount.unmount();
  }
});
