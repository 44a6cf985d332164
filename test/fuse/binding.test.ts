/**
 * The FUSE binding on real mounts: a tiny passthrough filesystem over a temp
 * dir, exercised through the kernel by shell tools and node fs. Handlers here
 * are synchronous on purpose: requests are served on this thread, so they must
 * not wait for the libuv threadpool that the test's own fs.promises calls use.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, fchownSync, ftruncateSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync,
  readSync, readdirSync, readlinkSync, renameSync, rmdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeSync,
  chownSync, writeFileSync,
} from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { mountFuse, type Caller, type FuseMount, type FuseOps } from '../../src/fuse/binding.js';
import { FsError } from '../../src/errors.js';
import * as sys from '../../src/sys.js';

// splice_write: in passthrough mode reads go through read_buf and are spliced, as layerfs mounts them.
const OPTIONS = ['default_permissions', 'allow_other', 'use_ino', 'hard_remove', 'attr_timeout=0', 'entry_timeout=0', 'splice_write', 'fsname=layerfs-test'];
const BIG_INO = 2 ** 32 + 7;
const { O_EXCL, O_WRONLY } = constants;
const O_ACCMODE = 3;

/** What the handlers saw, for assertions on what crossed the binding. */
interface Seen { create: Array<{ path: string; flags: number; caller: Caller }>; fgetattr: number }

function passthroughOps(root: string, seen: Seen): FuseOps {
  const real = (p: string) => root + p;
  const copy = (c: Caller): Caller => ({ uid: c.uid, gid: c.gid, pid: c.pid, umask: c.umask });
  return {
    getattr(p) {
      if (p === '/throws') throw new Error('boom');
      if (p === '/rejects') return Promise.reject(new TypeError('async boom'));
      if (p === '/fs-error') throw new FsError('ENOENT', 'lstat', p);
      if (p.startsWith('/slow-')) {
        // Answered later: many requests in flight make libfuse start (and later end) threads.
        const st = sys.lstat(root)!;
        st[sys.ST.size] = Number(p.slice(6));
        return new Promise((resolve) => setTimeout(() => resolve(st), 5));
      }
      const st = sys.lstat(real(p));
      if (st === null) throw new FsError('ENOENT', 'lstat', p);
      if (p === '/big-ino') st[sys.ST.ino] = BIG_INO;
      return st;
    },
    fgetattr(_p, fh) {
      seen.fgetattr++;
      return sys.fstat(fh);
    },
    readdir(p) {
      const names = ['.', '..', ...readdirSync(real(p))];
      const stats = names.map((n) => sys.lstat(join(real(p), n))!);
      stats.forEach((st, i) => names[i] === 'dir-ino' && (st[sys.ST.ino] = BIG_INO + 1)); // only readdir says so
      return { names, stats };
    },
    statfs: () => ({
      bsize: 4096, frsize: 4096, blocks: 2 ** 40, bfree: 2 ** 39, bavail: 2 ** 39,
      files: 2 ** 33, ffree: 2 ** 32, favail: 2 ** 32, fsid: 7, flag: 0, namemax: 255,
    }),
    open: (p, flags) => openSync(real(p), flags),
    create(p, mode, flags, c) {
      seen.create.push({ path: p, flags, caller: copy(c) });
      const fd = openSync(real(p), flags, mode);
      fchownSync(fd, c.uid, c.gid);
      return fd;
    },
    read: (_p, fh, buf, len, pos) => readSync(fh, buf, 0, len, pos),
    write: (_p, fh, buf, len, pos) => writeSync(fh, buf, 0, len, pos),
    release: (_p, fh) => closeSync(fh),
    truncate: (p, size) => truncateSync(real(p), size),
    ftruncate: (_p, fh, size) => ftruncateSync(fh, size),
    utimens: (p, [as, ans], [ms, mns]) => sys.utimens(real(p), as, ans, ms, mns),
    chmod: (p, mode) => chmodSync(real(p), mode),
    chown: (p, uid, gid) => chownSync(real(p), uid, gid),
    mkdir: (p, mode) => mkdirSync(real(p), { mode }),
    rmdir: (p) => rmdirSync(real(p)),
    unlink: (p) => unlinkSync(real(p)),
    rename: (from, to) => renameSync(real(from), real(to)),
    link: (existing, to) => linkSync(real(existing), real(to)),
    symlink: (target, p) => symlinkSync(target, real(p)),
    readlink: (p) => readlinkSync(real(p)),
    getxattr: (p, name) => sys.getxattr(real(p), name),
    listxattr: (p) => sys.listxattr(real(p)),
    setxattr: (p, name, value, flags) => sys.setxattr(real(p), name, value, flags),
    removexattr: (p, name) => sys.removexattr(real(p), name),
  };
}

/**
 * Runs a command; resolves to its trimmed output. cwd is never inside the
 * mount: spawn waits for the child's exec, and its chdir would need this very
 * thread to answer the lookup.
 */
function run(cmd: string[], cwd: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) =>
    execFile(cmd[0]!, cmd.slice(1), { cwd, env: { PATH: process.env.PATH, TZ: 'UTC', LC_ALL: 'C', DINO } }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: (stdout + stderr).trim() }),
    ),
  );
}
/**
 * d_ino as readdir(3) reports it (ls -i and find stat the file instead).
 * build-essential is a project dependency already (node-gyp).
 */
const DINO_C = `#include <dirent.h>
#include <stdio.h>
#include <string.h>
int main(int c, char **v) { DIR *d = opendir(v[1]); struct dirent *e;
  while ((e = readdir(d))) if (!strcmp(e->d_name, v[2])) { printf("%llu\\n", (unsigned long long) e->d_ino); return 0; }
  return 1; }`;
const DINO = join(tmpdir(), `layerfs-dino-${process.pid}`);

beforeAll(async () => {
  writeFileSync(`${DINO}.c`, DINO_C);
  const r = await run(['cc', '-o', DINO, `${DINO}.c`], '/');
  expect(r).toEqual({ ok: true, out: '' });
});
afterAll(() => {
  rmSync(DINO, { force: true });
  rmSync(`${DINO}.c`, { force: true });
});

/** A shell script run inside the mountpoint `mnt`. */
const sh = (script: string, mnt: string) => run(['sh', '-c', `cd "$0" && ${script}`, mnt], '/');

describe.each([
  { mode: 'passthrough I/O in C', passthrough: true },
  { mode: 'I/O through JS', passthrough: false },
])('fuse binding, $mode', ({ passthrough }) => {
  let base: string;
  let root: string;
  let mnt: string;
  let mount: FuseMount | undefined;
  let seen: Seen;
  let logged: string[];

  beforeEach(async () => {
    base = mkdtempSync(join(tmpdir(), 'layerfs-binding-'));
    chmodSync(base, 0o755);
    root = join(base, 'root');
    mnt = join(base, 'mnt');
    mkdirSync(root, { mode: 0o777 });
    chmodSync(root, 0o777);
    mkdirSync(mnt);
    seen = { create: [], fgetattr: 0 };
    logged = [];
    mount = await mountFuse(mnt, passthroughOps(root, seen), { options: OPTIONS, passthrough, log: (m) => logged.push(m) });
  });

  afterEach(async () => {
    if (mount) await mount.unmount().catch(() => run(['umount', '-l', mnt], base));
    mount = undefined;
    rmSync(base, { recursive: true, force: true });
  });

  const rows: Array<{ name: string; script: string; expected: string | RegExp; ok?: boolean }> = [
    {
      name: 'touch -d keeps nanoseconds (utimens gets exact sec+nsec)',
      script: "touch -d '2001-02-03 04:05:06.123456789' f && stat -c %y f",
      expected: '2001-02-03 04:05:06.123456789 +0000',
    },
    {
      name: 'touch -a leaves mtime (upstream passed atime twice)',
      script: "touch -d '2001-01-01 00:00:01.5' f && touch -a -d '2002-02-02 00:00:02.25' f && stat -c '%x|%y' f",
      expected: '2002-02-02 00:00:02.250000000 +0000|2001-01-01 00:00:01.500000000 +0000',
    },
    {
      name: 'touch -m leaves atime',
      script: "touch -d '2001-01-01 00:00:01.5' f && touch -m -d '2003-03-03 00:00:03.75' f && stat -c '%x|%y' f",
      expected: '2001-01-01 00:00:01.500000000 +0000|2003-03-03 00:00:03.750000000 +0000',
    },
    { name: 'inode numbers above 2^32 show through (use_ino)', script: 'touch big-ino && stat -c %i big-ino', expected: String(BIG_INO) },
    {
      name: 'readdir stats carry 64-bit inode numbers (d_ino)',
      script: 'touch dir-ino && "$DINO" . dir-ino',
      expected: String(BIG_INO + 1),
    },
    { name: 'statfs with 64-bit counts', script: "stat -f -c '%S %b %a %c %l' .", expected: `4096 ${2 ** 40} ${2 ** 39} ${2 ** 33} 255` },
    { name: 'fsync', script: 'echo synced > f && sync f && cat f', expected: 'synced' },
    { name: 'a handler that throws answers EIO', script: 'touch throws; stat throws', expected: /Input\/output error/, ok: false },
    { name: 'a rejected promise answers EIO', script: 'stat rejects', expected: /Input\/output error/, ok: false },
    { name: "FsError('ENOENT') answers ENOENT", script: 'stat fs-error', expected: /No such file or directory/, ok: false },
    { name: 'symlink and readlink', script: 'ln -s some/target l && readlink l', expected: 'some/target' },
    { name: 'mkdir, rename, ls', script: 'mkdir d && touch d/a && mv d/a d/b && ls -a d | tr "\\n" " "', expected: '. .. b' },
    { name: 'hard link count', script: 'echo x > a && ln a b && stat -c %h b', expected: '2' },
    { name: 'chmod', script: 'touch f && chmod 640 f && stat -c %a f', expected: '640' },
    { name: 'truncate', script: 'echo hello > f && truncate -s 3 f && cat f', expected: 'hel' },
    { name: 'xattrs', script: 'touch f && setfattr -n user.k -v vvv f && getfattr -n user.k --only-values f && getfattr -d f | grep -c user.k', expected: 'vvv1' },
    { name: 'missing xattr is ENODATA', script: 'touch f && getfattr -n user.none f', expected: /No such attribute/, ok: false },
    { name: 'unlink of an open file (nullpath_ok, hard_remove)', script: 'exec 3>f && rm f && echo data >&3 && exec 3>&- && ls', expected: '' },
  ];

  it.each(rows)('$name', async ({ script, expected, ok = true }) => {
    const r = await sh(script, mnt);
    if (typeof expected === 'string') expect(r.out).toBe(expected);
    else expect(r.out).toMatch(expected);
    expect(r.ok).toBe(ok);
  });

  it('answers 40 requests in flight at once, twice (thread churn reuses locals)', async () => {
    const script = 'for i in $(seq 1 40); do stat -c %s slow-$i > out-$i & done; wait; cat $(seq -f out-%g 1 40) | tr "\\n" " "';
    const expected = Array.from({ length: 40 }, (_, i) => i + 1).join(' ');
    for (let round = 0; round < 2; round++) {
      const r = await run(['sh', '-c', `cd "$0" && ${script}`, mnt], '/');
      expect(r).toEqual({ ok: true, out: expected });
    }
  });

  it('logs unexpected errors and not FsErrors', async () => {
    await sh('stat throws; stat fs-error', mnt);
    expect(logged.join('\n')).toMatch(/unexpected error, answering EIO: Error: boom/);
    expect(logged.join('\n')).not.toMatch(/ENOENT/);
  });

  it('create gets the open flags (O_EXCL|O_WRONLY) and the caller', async () => {
    const r = await run([process.execPath, '-e', "require('fs').closeSync(require('fs').openSync(process.argv[1], 'wx'))", join(mnt, 'f')], '/');
    expect(r).toEqual({ ok: true, out: '' });
    const c = seen.create.find((e) => e.path === '/f')!;
    expect(c.flags & O_EXCL).toBe(O_EXCL);
    expect(c.flags & O_ACCMODE).toBe(O_WRONLY);
    expect(c.caller.uid).toBe(0);
    expect(c.caller.pid).toBeGreaterThan(0);
  });

  it('reports the caller uid/gid of an unprivileged process', async () => {
    const r = await run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'touch', join(mnt, 'nobody-file')], '/');
    expect(r).toEqual({ ok: true, out: '' });
    const c = seen.create.find((e) => e.path === '/nobody-file')!;
    expect([c.caller.uid, c.caller.gid]).toEqual([65534, 65534]);
    expect(c.caller.umask).toBe(0o022);
    expect((await sh('stat -c %u:%g nobody-file', mnt)).out).toBe('65534:65534');
  });

  it('round-trips 3 MiB', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(join(mnt, 'big'), data);
    expect(readFileSync(join(root, 'big')).equals(data)).toBe(true);
    expect((await readFile(join(mnt, 'big'))).equals(data)).toBe(true);
    expect((await sh('cmp big ../root/big && echo same', mnt)).out).toBe('same');
  });

  // The kernel sends no fh with the GETATTR of fstat(2) (FUSE_GETATTR_FH is only set
  // on llseek-style refreshes), but libfuse 2.9 itself uses fgetattr after create
  // and after ftruncate.
  const fgetattrRows = [
    { name: 'create', preexisting: false, code: "fs.closeSync(fs.openSync(f, 'w'))", calls: 1 },
    { name: 'fstat of an open file', preexisting: true, code: "fs.fstatSync(fs.openSync(f, 'r'))", calls: 0 },
    { name: 'ftruncate', preexisting: true, code: "fs.ftruncateSync(fs.openSync(f, 'r+'), 5)", calls: 1 },
  ];
  it.each(fgetattrRows)('fgetattr calls for $name: $calls', async ({ preexisting, code, calls }) => {
    if (preexisting) writeFileSync(join(root, 'g'), 'content');
    const before = seen.fgetattr;
    const r = await run([process.execPath, '-e', `const fs = require('fs'); const f = process.argv[1]; ${code}`, join(mnt, 'g')], '/');
    expect(r).toEqual({ ok: true, out: '' });
    expect(seen.fgetattr - before).toBe(calls);
  });

  it('resolves closed when unmounted from outside', async () => {
    expect((await run(['umount', mnt], base)).ok).toBe(true);
    await mount!.closed;
    await mount!.unmount(); // a no-op now
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(` ${mnt} `);
  });
});

/**
 * A daemon must exit once its mount is gone: after the closed notification no
 * uv handle of the mount may keep the event loop alive. The child uses the raw
 * addon (plain JS, no TypeScript in a child process) with a getattr-only table.
 */
const DAEMON = `
const native = require(process.argv[1]);
const dir = new Float64Array(16); dir[0] = 0o40755; dir[5] = 2;
const handlers = new Array(35).fill(() => {});
handlers[native.op_getattr] = (l) => native.fuse_native_signal_getattr(l, 0, dir);
const implemented = new Uint32Array(35); implemented[native.op_getattr] = 1;
native.fuse_native_mount(process.argv[2], '', Buffer.alloc(native.sizeof_fuse_thread_t), {},
  (size) => Buffer.alloc(size), handlers, implemented, false, () => console.log('closed'));
console.log('mounted');
`;

describe('the mounting process', () => {
  it('exits by itself once unmounted from outside', async () => {
    const base = mkdtempSync(join(tmpdir(), 'layerfs-binding-'));
    const mnt = join(base, 'mnt');
    mkdirSync(mnt);
    const addon = createRequire(import.meta.url).resolve('fuse-native/build/Release/fuse.node');
    try {
      const child = execFile(process.execPath, ['-e', DAEMON, addon, mnt]);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const mounted = new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => out.includes('mounted') && resolve());
        void exited.then((code) => reject(new Error(`daemon exited (${code}) before mounting: ${out}`)));
      });
      await mounted;
      expect((await run(['stat', '-c', '%a', mnt], '/')).out).toBe('755');
      expect((await run(['umount', mnt], '/')).ok).toBe(true);
      expect(await exited).toBe(0);
      expect(out).toBe('mounted\nclosed\n');
    } finally {
      await run(['umount', '-l', mnt], '/');
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('mountFuse failures name the mountpoint', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'layerfs-binding-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const ops = passthroughOps('/nonexistent', { create: [], fgetattr: 0 });
  const rows = [
    { name: 'missing', setup: () => join(base, 'nope'), expected: /ENOENT: .*mount '.*nope'/ },
    {
      name: 'a file',
      setup: () => (closeSync(openSync(join(base, 'file'), 'w')), join(base, 'file')),
      expected: /ENOTDIR: mountpoint is not a directory, mount '.*file'/,
    },
    {
      name: 'not empty',
      setup: () => (mkdirSync(join(base, 'full/x'), { recursive: true }), join(base, 'full')),
      expected: /ENOTEMPTY: .*nonempty.*mount '.*full'/,
    },
  ];
  it.each(rows)('$name', async ({ setup, expected }) => {
    await expect(mountFuse(setup(), ops, { options: OPTIONS })).rejects.toThrow(expected);
  });

  it('an option libfuse rejects leaves nothing mounted', async () => {
    const mnt = join(base, 'm');
    mkdirSync(mnt);
    await expect(mountFuse(mnt, ops, { options: ['no_such_option'] })).rejects.toThrow(/\/m: cannot mount FUSE filesystem \(fuse_new failed/);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(` ${mnt} `);
  });
});
