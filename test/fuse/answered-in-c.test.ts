/**
 * Requests C answers without a trip to the JS thread (patches/fuse-native+2.2.6.patch),
 * on a real mount of a small passthrough filesystem.
 *
 * 1. libfuse's high-level API follows each change that creates a name or sets
 * attributes with a getattr of the same path. The binding answers the change
 * together with the path's new stat, and C answers that getattr from it
 * (keep_stat): one trip to the JS thread per change instead of two.
 *
 * How it is observed: a getattr the binding makes while answering a change
 * runs in the same JS turn as the change's handler; a getattr libfuse asks for
 * is a new turn. After the change, no getattr of its path may reach JS in a
 * turn of its own. And the handlers answer a new inode number on every call
 * while the kernel keeps the attributes of the change's reply (attr_timeout=30),
 * so `stat` right after the change shows the stat that was sent with it.
 *
 * 2. The kernel asks for security.capability before every write. Once JS said
 * "none" for a path (synchronously), C answers the next asks itself, until an
 * answer to a change that could alter it (nocaps).
 */
import { execFile } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, ftruncateSync, linkSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync,
  symlinkSync, truncateSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsError } from '../../src/errors.js';
import { mountFuse, type FuseMount, type FuseOps } from '../../src/fuse/binding.js';
import * as sys from '../../src/sys.js';

const CAPS = 'security.capability';
/** A valid v2 security.capability: cap_net_raw permitted and effective. */
const CAP_NET_RAW = '0x0100000200200000000000000000000000000000';
const OPTIONS = ['default_permissions', 'allow_other', 'use_ino', 'attr_timeout=30', 'entry_timeout=30', 'fsname=layerfs-test'];

/** Runs a shell script from / (never inside the mount: this thread serves it). */
const sh = (script: string, mnt: string) =>
  new Promise<{ ok: boolean; out: string }>((resolve) =>
    execFile('sh', ['-c', `M="$0"; ${script}`, mnt], { cwd: '/' }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: (stdout + stderr).trim() })),
  );

/** One row per change libfuse follows with a getattr of `path`. */
const rows = [
  { change: 'chmod', script: 'chmod 600 "$M/f"', path: '/f' },
  { change: 'chown', script: 'chown 1:1 "$M/f"', path: '/f' },
  { change: 'utimens', script: 'touch -d @5 "$M/f"', path: '/f' },
  { change: 'truncate', script: 'truncate -s 3 "$M/f"', path: '/f' },
  { change: 'mkdir', script: 'mkdir "$M/d"', path: '/d' },
  { change: 'mknod', script: 'mkfifo "$M/p"', path: '/p' },
  { change: 'symlink', script: 'ln -s f "$M/s"', path: '/s' },
  { change: 'link', script: 'ln "$M/f" "$M/h"', path: '/h' },
  { change: 'create', script: ': > "$M/n"', path: '/n' },
];

describe('answered in C', () => {
  let root: string;
  let mnt: string;
  let mount: FuseMount | undefined;
  let calls: Array<{ path: string; ino: number; withChange: boolean }>;
  let capsAsked: string[];
  let counter: number;

  beforeEach(async () => {
    const base = mkdtempSync(join(tmpdir(), 'layerfs-inc-'));
    root = join(base, 'root');
    mnt = join(base, 'mnt');
    mkdirSync(root);
    mkdirSync(mnt);
    writeFileSync(join(root, 'f'), 'content');
    calls = [];
    capsAsked = [];
    counter = 1000;
    const real = (p: string) => root + p;
    let changing: string | null = null;
    // Marks `p` as changed in this turn (until the microtasks run), then does the change.
    const change = <T>(p: string, f: () => T): T => {
      changing = p;
      queueMicrotask(() => (changing = null));
      return f();
    };
    const stat = (p: string, st: sys.StatBuf | null) => {
      if (st === null) throw new FsError('ENOENT', 'lstat', p);
      st[sys.ST.ino] = ++counter;
      calls.push({ path: p, ino: counter, withChange: changing === p });
      return st;
    };
    const ops: FuseOps = {
      getattr: (p) => stat(p, sys.lstat(real(p))),
      fgetattr: (p, fh) => stat(p, sys.fstat(fh)),
      readdir: () => ({ names: ['.', '..'] }),
      open: (p, flags) => openSync(real(p), flags),
      create: (p, mode, flags) => change(p, () => openSync(real(p), flags, mode)),
      release: (_p, fh) => closeSync(fh),
      truncate: (p, size) => change(p, () => truncateSync(real(p), size)),
      ftruncate: (p, fh, size) => change(p, () => ftruncateSync(fh, size)),
      utimens: (p, [as, ans], [ms, mns]) => change(p, () => sys.utimens(real(p), as, ans, ms, mns)),
      chmod: (p, mode) => change(p, () => chmodSync(real(p), mode)),
      chown: (p, uid, gid) => change(p, () => chownSync(real(p), uid, gid)),
      mkdir: (p, mode) => change(p, () => mkdirSync(real(p), { mode })),
      mknod: (p, mode, dev) => change(p, () => sys.mknodRaw(real(p), mode, dev)),
      symlink: (target, p) => change(p, () => symlinkSync(target, real(p))),
      link: (from, to) => change(to, () => linkSync(real(from), real(to))),
      unlink: (p) => unlinkSync(real(p)),
      rename: (from, to) => renameSync(real(from), real(to)),
      getxattr: (p, name) => {
        if (name === CAPS) capsAsked.push(p);
        const value = sys.getxattr(real(p), name);
        return p === '/async' ? Promise.resolve(value) : value;
      },
      setxattr: (p, name, value, flags) => sys.setxattr(real(p), name, value, flags),
      removexattr: (p, name) => sys.removexattr(real(p), name),
    };
    mount = await mountFuse(mnt, ops, { options: OPTIONS, passthrough: true, log: () => {} });
  });

  afterEach(async () => {
    await mount?.unmount();
    mount = undefined;
    rmSync(join(root, '..'), { recursive: true, force: true });
  });

  it.each(rows)('the getattr after $change is answered from the stat sent with it', async ({ script, path }) => {
    // Looked up (and its parent's entry cached) before the change is counted.
    expect(await sh(`stat -c %i "$M/f" > /dev/null`, mnt)).toEqual({ ok: true, out: '' });
    const before = calls.length;
    expect(await sh(script, mnt)).toEqual({ ok: true, out: '' });
    // The kernel may ask before the change (chown refreshes the mode); after it, nothing.
    const during = calls.slice(before).filter((c) => c.path === path);
    const sent = during.at(-1);
    expect(sent?.withChange).toBe(true);
    expect(during.filter((c) => c.withChange)).toHaveLength(1);
    expect(await sh(`stat -c %i "$M${path}"`, mnt)).toEqual({ ok: true, out: String(sent!.ino) });
  });

  const getCaps = (name: string) => `getfattr --absolute-names -e hex -n ${CAPS} "$M/${name}" 2>&1 | grep -o '0x[0-9a-f]*' || echo none`;
  it('asks JS about security.capability once per path, writes included', async () => {
    writeFileSync(join(root, 'g'), '');
    expect(await sh(`${getCaps('f')}; ${getCaps('f')}; echo x >> "$M/g"; echo y >> "$M/g"; ${getCaps('g')}`, mnt))
      .toEqual({ ok: true, out: 'none\nnone\nnone' });
    expect(capsAsked).toEqual(['/f', '/g']);
  });

  // Each change makes the next ask reach JS again, which must then see the new state.
  const changes = [
    { change: 'setxattr', script: `setfattr -n ${CAPS} -v ${CAP_NET_RAW} "$M/f"`, after: CAP_NET_RAW },
    { change: 'removexattr', script: `setfattr -x ${CAPS} "$M/h"`, after: 'none' },
    { change: 'rename', script: 'mv "$M/h" "$M/f"', after: CAP_NET_RAW },
    { change: 'unlink and create', script: 'rm "$M/f" && : > "$M/f"', after: 'none' },
  ];
  it.each(changes)('asks JS again after $change', async ({ script, after }) => {
    writeFileSync(join(root, 'h'), '');
    sys.setxattr(join(root, 'h'), CAPS, Buffer.from(CAP_NET_RAW.slice(2), 'hex'), 0);
    expect(await sh(`${getCaps('f')}; ${getCaps('f')}`, mnt)).toEqual({ ok: true, out: 'none\nnone' });
    expect(capsAsked).toEqual(['/f']);
    expect(await sh(script, mnt)).toEqual({ ok: true, out: '' });
    expect(await sh(getCaps('f'), mnt)).toEqual({ ok: true, out: after });
    expect(capsAsked.filter((p) => p === '/f').length).toBeGreaterThan(1);
  });

  it('does not remember an answer JS gave later (it may be stale by then)', async () => {
    writeFileSync(join(root, 'async'), '');
    expect(await sh(`${getCaps('async')}; ${getCaps('async')}`, mnt)).toEqual({ ok: true, out: 'none\nnone' });
    expect(capsAsked).toEqual(['/async', '/async']);
  });
});
