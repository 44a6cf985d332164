/**
 * Load: 8 processes do mixed operations on one mount (create, write, append,
 * read, rename, link, unlink, mkdir, rmdir, chmod, truncate, stat, readdir),
 * each in its own dir and in one dir they share, for LAYERFS_LOAD_SECONDS
 * (10 s by default; 60 for the full run). Afterwards: no process hung or met an
 * error that races cannot explain, the mount still answers and shows what the
 * upper dir holds, and the daemon holds as many fds and about as much memory
 * as after a warm-up of the same work (the RSS plateau is reached a few
 * seconds in: V8 grows its heaps first).
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh, unmountAll } from '../helpers/mounts.js';
import { daemonPid, fdsOf, freshMount, rssOf } from '../helpers/fresh-mount.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-load-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SECONDS = Number(process.env.LAYERFS_LOAD_SECONDS ?? 10);
const WARMUP_SECONDS = 4;
const WORKERS = 8;
/** A worker may overrun its time by this much (a slow op, process start) before it counts as hung. */
const GRACE_MS = 15_000;

/**
 * argv: mount dir, worker number, seconds. Prints `ops errors` and the first
 * unexpected errors. Errors two workers' races explain are expected: a name
 * another worker removed, renamed or made meanwhile, or that is of the other
 * type (a dir where a file was meant, and the reverse).
 */
const WORKER = `
import errno, os, random, sys, time
root, wid, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(wid * 7919 + int(time.time()))
own, shared = os.path.join(root, 'w%d' % wid), os.path.join(root, 'shared')
os.makedirs(own, exist_ok=True)
RACES = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR}
def name(d):
    return os.path.join(d, 'n%d' % rnd.randrange(40))
def create(d):
    with open(name(d), 'wb') as f:
        f.write(os.urandom(rnd.randrange(1, 200000)))
def append(d):
    fd = os.open(name(d), os.O_WRONLY | os.O_APPEND)
    try: os.write(fd, b'x' * rnd.randrange(1, 5000))
    finally: os.close(fd)
def read(d):
    with open(name(d), 'rb') as f:
        f.read()
def rename(d): os.rename(name(d), name(rnd.choice([own, shared])))
def link(d):
    try: os.link(name(d), name(d))
    except IsADirectoryError: pass
    except PermissionError: pass  # EPERM: the source was a directory
def unlink(d): os.unlink(name(d))
def mkdir(d): os.mkdir(name(d))
def rmdir(d): os.rmdir(name(d))
def chmod(d): os.chmod(name(d), rnd.choice([0o600, 0o644, 0o755]))
def truncate(d): os.truncate(name(d), rnd.randrange(0, 10000))
def stat(d): os.lstat(name(d))
def readdir(d): [e.stat(follow_symlinks=False) for e in os.scandir(d)]
ops = [create, create, append, read, read, rename, link, unlink, mkdir, rmdir, chmod, truncate, stat, stat, readdir]
end, n, bad = time.time() + seconds, 0, []
while time.time() < end:
    op = rnd.choice(ops)
    try:
        op(rnd.choice([own, own, shared]))
    except OSError as e:
        if e.errno not in RACES: bad.append('%s: %s' % (op.__name__, e))
    n += 1
print(n, len(bad), '; '.join(bad[:5]))
`;

interface Outcome { wid: number; code: number | null; hung: boolean; out: string }

function worker(mnt: string, wid: number, seconds: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', WORKER, mnt, String(wid), String(seconds)], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let hung = false;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, seconds * 1000 + GRACE_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ wid, code, hung, out: out.trim() });
    });
  });
}

async function round(mnt: string, seconds: number): Promise<Outcome[]> {
  return Promise.all(Array.from({ length: WORKERS }, (_, wid) => worker(mnt, wid, seconds)));
}

/** Every entry below `dir` as `path type size mode`, sorted. */
const TREE = "find . -mindepth 1 -printf '%P %y %s %m\\n' | sort";

it(`${WORKERS} processes for ${SECONDS} s: none hangs, the mount answers, no fd or memory leak`, async () => {
  const f = await freshMount(root, 'layerfs', { lower: { 'shared/': { type: 'dir' }, 'shared/from-lower': 'lower\n' } });
  const pid = daemonPid(f.mnt);

  const ok = (o: Outcome) => ({ wid: o.wid, code: o.code, hung: o.hung, unexpected: o.out.split(' ')[1] });
  const fine = (o: Outcome) => ({ wid: o.wid, code: 0, hung: false, unexpected: '0' });
  const warm = await round(f.mnt, WARMUP_SECONDS);
  expect(warm.map(ok), warm.map((o) => o.out).join('\n')).toEqual(warm.map(fine));
  const fdsBefore = fdsOf(pid);
  const rssBefore = rssOf(pid);

  const load = await round(f.mnt, SECONDS);
  expect(load.map(ok), load.map((o) => o.out).join('\n')).toEqual(load.map(fine));
  expect(load.every((o) => Number(o.out.split(' ')[0]) > 100)).toBe(true); // they did work

  // Still answers, and what it shows is what the upper dir holds (the lower file may be gone).
  expect(await sh('echo alive > probe && cat probe && rm probe', f.mnt)).toEqual({ code: 0, out: 'alive\n' });
  const merged = await sh(TREE, f.mnt);
  const upper = await sh(TREE, f.upper);
  expect(merged.code).toBe(0);
  const fromLower = (lines: string) => lines.split('\n').filter((l) => !l.startsWith('shared/from-lower ')).join('\n');
  expect(fromLower(merged.out)).toEqual(fromLower(upper.out));

  const fdsAfter = fdsOf(pid);
  const rssAfter = rssOf(pid);
  expect(fdsAfter.fuse).toBe(fdsBefore.fuse);
  expect(Math.abs(fdsAfter.all - fdsBefore.all)).toBeLessThanOrEqual(3);
  expect(rssAfter - rssBefore, `RSS ${rssBefore >> 20} MiB → ${rssAfter >> 20} MiB`).toBeLessThan(30 << 20);
}, (WARMUP_SECONDS + SECONDS) * 1000 + 2 * GRACE_MS + 30_000);
