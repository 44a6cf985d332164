/**
 * Operations as data, applied the same way to a kernel overlayfs mount (through
 * Node's fs, as a program would) and to the Overlay (the way the kernel's VFS
 * drives a FUSE filesystem), so tests can compare outcomes one for one.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync, chmodSync, closeSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync,
  symlinkSync, truncateSync, unlinkSync, writeFileSync, writeSync, constants as fsc,
} from 'node:fs';
import { join } from 'node:path';
import type { Overlay } from '../../src/overlay/overlay.js';
import { mknod, S_IFIFO, setxattr, ST } from '../../src/sys.js';
import { root } from './tree.js';

export type Op =
  | { op: 'write' | 'append'; path: string; data: string }
  | { op: 'create' | 'mkdir' | 'unlink' | 'rmdir' | 'chmod' | 'mkfifo' | 'chown' | 'getattr' | 'readdir'; path: string }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'rename' | 'link'; path: string; to: string }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'setxattr'; path: string };

const codeOf = (err: unknown): string => (err as { code?: string }).code ?? String(err);

/** 'ok' or the error code. */
export async function outcome(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    return codeOf(err);
  }
}

export function onKernel(mnt: string, o: Op): void {
  const p = mnt + o.path;
  switch (o.op) {
    case 'write': return writeFileSync(p, o.data);
    case 'append': return appendFileSync(p, o.data);
    case 'create': return closeSync(openSync(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644));
    case 'mkdir': return mkdirSync(p, 0o755);
    case 'unlink': return unlinkSync(p);
    case 'rmdir': return rmdirSync(p);
    case 'chmod': return chmodSync(p, 0o700);
    case 'mkfifo': return mknod(p, S_IFIFO | 0o644);
    case 'chown': return lchownSync(p, 7, 8);
    case 'getattr': return void lstatSync(p);
    case 'readdir': return void readdirSync(p);
    case 'truncate': return truncateSync(p, o.size);
    case 'rename': return renameSync(p, mnt + o.to);
    case 'link': return linkSync(p, mnt + o.to);
    case 'symlink': return symlinkSync(o.target, p);
    case 'setxattr': return setxattr(p, 'user.k', Buffer.from('v'));
  }
}

/** The same operation the way the kernel's VFS would drive a FUSE filesystem. */
export async function onOverlay(ov: Overlay, o: Op): Promise<void> {
  const c = { ...root, umask: 0o022 };
  const exists = () => { try { return ov.getattr(o.path); } catch (err) { if (codeOf(err) === 'ENOENT') return null; throw err; } };
  const isDirectory = (st: Float64Array | null) => st !== null && (st[ST.mode]! & 0o170000) === 0o040000;
  switch (o.op) {
    case 'write':
    case 'append': {
      const st = exists();
      const flags = fsc.O_WRONLY | (o.op === 'write' ? fsc.O_TRUNC : fsc.O_APPEND);
      if (isDirectory(st)) throw Object.assign(new Error(), { code: 'EISDIR' });
      const fd = st !== null ? await ov.open(o.path, flags, c) : await ov.create(o.path, 0o666, flags | fsc.O_CREAT, c);
      try { writeSync(fd, o.data); } finally { ov.release(fd); }
      return;
    }
    case 'create': {
      if (exists() !== null) throw Object.assign(new Error(), { code: 'EEXIST' });
      ov.release(await ov.create(o.path, 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, c));
      return;
    }
    case 'mkdir': return ov.mkdir(o.path, 0o755, c);
    case 'unlink': return ov.unlink(o.path, c);
    case 'rmdir': return ov.rmdir(o.path, c);
    case 'chmod': return ov.chmod(o.path, 0o700, c);
    case 'mkfifo': return ov.mknod(o.path, S_IFIFO | 0o644, 0, c);
    case 'chown': return ov.chown(o.path, 7, 8, c);
    case 'getattr': return void ov.getattr(o.path);
    case 'readdir': return void ov.readdir(o.path);
    case 'truncate': {
      if (isDirectory(exists())) throw Object.assign(new Error(), { code: 'EISDIR' });
      return ov.truncate(o.path, o.size, c);
    }
    case 'rename': return ov.rename(o.path, o.to, c);
    case 'link': return ov.link(o.path, o.to, c);
    case 'symlink': return ov.symlink(o.target, o.path, c);
    case 'setxattr': return ov.setxattr(o.path, 'user.k', Buffer.from('v'), 0, c);
  }
}

/** Type, permission bits, owner and size of each path (times differ by when each side ran). */
export function metadataOf(side: Overlay | string, paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) {
    if (typeof side === 'string') {
      const st = lstatSync(join(side, p));
      out[p] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size}`;
    } else {
      const st = side.getattr('/' + p);
      out[p] = `${st[ST.mode]!.toString(8)} ${st[ST.uid]}:${st[ST.gid]} ${(st[ST.mode]! & 0o170000) === 0o040000 ? '' : st[ST.size]}`;
    }
  }
  return out;
}

/** Kernel overlayfs as the oracle, in the semantics the Overlay implements (redirect_dir, index, metacopy, xino off). */
export function mountKernelOverlay(lowerdirs: string[], upper: string, work: string, mnt: string): void {
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o',
    `lowerdir=${lowerdirs.join(':')},upperdir=${upper},workdir=${work},redirect_dir=off,index=off,metacopy=off,xino=off`, mnt]);
}
