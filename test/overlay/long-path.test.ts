/**
 * Paths of 4095 bytes inside the mount (PATH_MAX - 1, the most a program in
 * the mount can name from its root) and longer ones (named from a deep working
 * directory), in a lower layer and in the upper one: with the layer root in
 * front the real path passes PATH_MAX, yet every operation must work as on
 * kernel overlayfs, which runs each row too (reaching the directory a
 * component at a time, with chdir). Only a name has a limit (NAME_MAX).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as longPath from '../../src/overlay/long-path.js';
import { Overlay } from '../../src/overlay/overlay.js';
import { fileType, S_IFDIR, S_IFLNK, S_IFREG, ST } from '../../src/sys.js';
import { mountKernelOverlay, onKernel, onOverlay, type Op, outcome } from './ops.js';
import { readFd, root, tempRoot } from './tree.js';

/** 20 directories of 200 bytes: 4019 bytes; a 75-byte name below them makes 4095. */
const DIRS = Array.from({ length: 20 }, (_, i) => String(i).padStart(2, '0') + 'd'.repeat(198));
const DEEP = '/' + DIRS.join('/');
const leaf = (tag: string, bytes = 75) => tag + 'x'.repeat(bytes - tag.length);
const F = leaf('f');
const G = leaf('g');
const E = leaf('e');
const N = leaf('n');
const LONG = leaf('l', 76);
const at = (name: string) => `${DEEP}/${name}`;

/** Runs `fn` with the working directory at `dir` + DEEP (or `dirs`), reached a component at a time (made when missing). */
function inDeep<T>(dir: string, fn: () => T, dirs = DIRS): T {
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    for (const c of dirs) {
      mkdirSync(c, { recursive: true });
      process.chdir(c);
    }
    return fn();
  } finally {
    process.chdir(cwd);
  }
}

function readDeep(dir: string, name: string): string {
  return inDeep(dir, () => {
    const fd = openSync(name, fsc.O_RDONLY);
    try {
      return readFd(fd);
    } finally {
      closeSync(fd);
    }
  });
}

/** Type, mode and (for files) size of every entry below `dir`, deep ones included (find walks a component at a time). */
function findSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = execFileSync('find', [dir, '-mindepth', '1', '-printf', '%y %m %s\\0%P\\0'], { maxBuffer: 1 << 26 }).toString().split('\0');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [type, mode, size] = lines[i]!.split(' ');
    out[lines[i + 1]!] = type === 'f' ? `${type} ${mode} ${size}` : `${type} ${mode}`;
  }
  return out;
}

/** The same, walked through the overlay. */
async function overlaySnapshot(ov: Overlay): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string) => {
    for (const name of ov.readdir(path).names) {
      const p = path === '/' ? `/${name}` : `${path}/${name}`;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = ov.getattr(p);
      const type = { [S_IFREG]: 'f', [S_IFDIR]: 'd', [S_IFLNK]: 'l' }[fileType(st[ST.mode]!)] ?? 'p';
      const mode = (st[ST.mode]! & 0o7777).toString(8);
      out[r] = type === 'f' ? `${type} ${mode} ${st[ST.size]}` : `${type} ${mode}`;
      if (type === 'd') walk(p, r);
    }
  };
  walk('/', '');
  return out;
}

interface Row {
  name: string;
  ops: Op[];
  expected: string[];
}

const ok = (name: string, ...ops: Op[]): Row => ({ name, ops, expected: ops.map(() => 'ok') });
/** Paths of 4096 bytes and more: pjdfstest's 03.t files name them from a working directory below the mount's root. */
const deeper = (name: string, ...ops: Op[]): Row => ok(`4096 bytes and more: ${name}`, ...ops);

const rows: Row[] = [
  ok('getattr', { op: 'getattr', path: at(F) }, { op: 'getattr', path: DEEP }),
  ok('readdir', { op: 'readdir', path: DEEP }, { op: 'readdir', path: at(E) }),
  ok('create', { op: 'create', path: at(N) }),
  ok('write: copy-up of a file at that depth', { op: 'append', path: at(F), data: '+more' }),
  ok('mkdir', { op: 'mkdir', path: at(N) }),
  ok('mknod (fifo)', { op: 'mkfifo', path: at(N) }),
  ok('symlink', { op: 'symlink', path: at(N), target: 'x'.repeat(4000) }),
  ok('link', { op: 'link', path: at(F), to: at(N) }),
  ok('rename', { op: 'rename', path: at(F), to: at(N) }),
  ok('rename onto another file', { op: 'rename', path: at(G), to: at(F) }),
  ok('rename a file up to a short path and back', { op: 'rename', path: at(F), to: '/f' }, { op: 'rename', path: '/f', to: at(F) }),
  ok('chmod', { op: 'chmod', path: at(F) }),
  ok('chown', { op: 'chown', path: at(F) }),
  ok('truncate', { op: 'truncate', path: at(F), size: 2 }),
  ok('setxattr', { op: 'setxattr', path: at(F) }),
  ok('unlink', { op: 'unlink', path: at(F) }),
  ok('rmdir', { op: 'rmdir', path: at(E) }),
  ok('unlink, then create over the whiteout', { op: 'unlink', path: at(F) }, { op: 'create', path: at(F) }),
  ok('rmdir, then mkdir over the whiteout', { op: 'rmdir', path: at(E) }, { op: 'mkdir', path: at(E) }),
  deeper('create, getattr, unlink', { op: 'create', path: at(LONG) }, { op: 'getattr', path: at(LONG) }, { op: 'unlink', path: at(LONG) }),
  deeper('mkdir, and a file in it', { op: 'mkdir', path: at(LONG) }, { op: 'create', path: `${at(LONG)}/${N}` }, { op: 'readdir', path: at(LONG) }),
  deeper('mknod', { op: 'mkfifo', path: at(LONG) }),
  deeper('symlink', { op: 'symlink', path: at(LONG), target: 't' }),
  deeper('link to', { op: 'link', path: at(F), to: at(LONG) }),
  deeper('rename there and back', { op: 'rename', path: at(F), to: at(LONG) }, { op: 'rename', path: at(LONG), to: at(F) }),
  deeper('copy-up of a lower dir at that depth, and rmdir', { op: 'chmod', path: at(E) }, { op: 'create', path: `${at(E)}/${LONG}` }, { op: 'unlink', path: `${at(E)}/${LONG}` }, { op: 'rmdir', path: at(E) }),
];

/** The op with its paths relative to DEEP (for the kernel, run from there); paths outside stay as they are. */
function relative(o: Op): Op {
  const rel = (p: string) => (p.startsWith(DEEP + '/') ? '/' + p.slice(DEEP.length + 1) : p === DEEP ? '' : '/..'.repeat(DIRS.length) + p);
  return { ...o, path: rel(o.path), ...('to' in o ? { to: rel(o.to) } : {}) } as Op;
}

describe('paths of 4095 bytes inside the mount, as on kernel overlayfs', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => execFileSync('rm', ['-rf', base])); // Node's rmSync cannot reach entries this deep

  for (const where of ['lower', 'upper'] as const) {
    it.each(rows)(`${where}: $name`, async (r) => {
      const k = join(base, 'k');
      const o = join(base, 'o');
      for (const side of [k, o]) {
        for (const d of ['lower', 'upper', 'work']) mkdirSync(join(side, d), { recursive: true });
        // The entries at depth, in the lower layer or the upper one; the other one holds the directories too.
        inDeep(join(side, where), () => {
          writeFileSync(F, 'data');
          writeFileSync(G, 'other');
          mkdirSync(E);
        });
        inDeep(join(side, where === 'lower' ? 'upper' : 'lower'), () => writeFileSync('beside', 'b'));
      }
      const mnt = join(k, 'merged');
      mkdirSync(mnt);
      mountKernelOverlay([`${k}/lower`], `${k}/upper`, `${k}/work`, mnt);
      try {
        const ov = new Overlay({ lowerdirs: [join(o, 'lower')], upperdir: join(o, 'upper'), workdir: join(o, 'work') });
        try {
          const ours: string[] = [];
          const kernel: string[] = [];
          for (const op of r.ops) {
            ours.push(await outcome(() => onOverlay(ov, op)));
            kernel.push(await outcome(() => inDeep(mnt, () => onKernel('.', relative(op)))));
          }
          expect(ours).toEqual(r.expected);
          expect(kernel, 'kernel overlayfs').toEqual(r.expected);
          expect(await overlaySnapshot(ov)).toEqual(findSnapshot(mnt));
          // File data through the overlay, at depth.
          const view = findSnapshot(mnt);
          for (const name of [F, G, N]) {
            const rel = DIRS.join('/') + '/' + name;
            if (!view[rel]?.startsWith('f ')) continue;
            const fd = await ov.open(at(name), fsc.O_RDONLY, root);
            try {
              expect(readFd(fd)).toBe(readDeep(mnt, name));
            } finally {
              ov.release(fd);
            }
          }
        } finally {
          ov.close();
        }
      } finally {
        execFileSync('umount', [mnt]);
      }
      expect(findSnapshot(join(o, 'upper'))).toEqual(findSnapshot(join(k, 'upper')));
    });
  }

  it('opens and writes a file at depth through its fd', async () => {
    const o = join(base, 'o');
    for (const d of ['lower', 'upper', 'work']) mkdirSync(join(o, d), { recursive: true });
    inDeep(join(o, 'lower'), () => writeFileSync(F, 'data'));
    const ov = new Overlay({ lowerdirs: [join(o, 'lower')], upperdir: join(o, 'upper'), workdir: join(o, 'work') });
    try {
      const fd = await ov.open(at(F), fsc.O_WRONLY | fsc.O_APPEND, root);
      try {
        writeSync(fd, '+fd');
      } finally {
        ov.release(fd);
      }
      expect(readDeep(join(o, 'upper'), F)).toBe('data+fd');
    } finally {
      ov.close();
    }
  });
});

describe('long-path: calls on real paths of any length', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => execFileSync('rm', ['-rf', base]));

  // 50 components of 250 bytes, some of them multi-byte: over 12,000 bytes, three steps of O_PATH fds.
  const dirs = Array.from({ length: 50 }, (_, i) => String(i).padStart(2, '0') + (i % 2 ? 'é'.repeat(124) : 'd'.repeat(248)));
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('reaches, changes and lists entries, and closes every fd it opened', () => {
    inDeep(base, () => writeFileSync('f', 'data'), dirs);
    const deep = base + '/' + dirs.join('/');
    expect(Buffer.byteLength(deep)).toBeGreaterThan(12_000);
    const before = openFds();
    expect(longPath.lstat(deep + '/f')).not.toBeNull();
    longPath.renameSync(deep + '/f', deep + '/g');
    longPath.linkSync(deep + '/g', base + '/short');
    longPath.symlinkSync('g', deep + '/l');
    expect(longPath.readlinkSync(deep + '/l')).toBe('g');
    longPath.mkdirSync(deep + '/d', 0o700);
    longPath.chmodSync(deep + '/d', 0o750);
    expect(longPath.lstat(deep + '/d')![ST.mode]! & 0o7777).toBe(0o750);
    longPath.setxattr(deep + '/g', 'user.k', Buffer.from('v'));
    expect(longPath.getxattr(deep + '/g', 'user.k')?.toString()).toBe('v');
    expect(longPath.readdirSync(deep).sort()).toEqual(['d', 'g', 'l']);
    expect(longPath.readdirTypes(deep).map((d) => d.isDirectory()).sort()).toEqual([false, false, true]);
    const fd = longPath.openSync(deep + '/g', fsc.O_RDONLY);
    expect(readFd(fd)).toBe('data');
    closeSync(fd);
    longPath.unlinkSync(deep + '/l');
    expect(longPath.lstat(deep + '/l')).toBeNull();
    // Missing: the last component, or an ancestor the steps go through.
    expect(longPath.lstat(deep + '/nothing/x')).toBeNull();
    expect(longPath.lstat(base + '/gone/' + dirs.join('/'))).toBeNull();
    expect(() => longPath.unlinkSync(base + '/gone/' + dirs.join('/'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(openFds()).toBe(before);
  });
});
