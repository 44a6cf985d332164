/**
 * Touching the container's tree from the host before it starts (its working
 * dir, volume mount points, /etc/passwd). The tree is the image's, so a
 * symlink in it must never lead the host out of the rootfs: every component
 * is checked with lstat, and a symlink stops the walk.
 */
import { lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { fsError, UsageError } from '../errors.js';
import type { Bind } from './init.js';

type Walk = { kind: 'exists' } | { kind: 'symlink'; at: string } | { kind: 'missing'; from: number };

async function walk(rootfs: string, path: string): Promise<Walk> {
  const parts = posix.normalize(path).split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const at = posix.join(rootfs, ...parts.slice(0, i + 1));
    const st = await lstat(at).catch(() => null);
    if (st === null) return { kind: 'missing', from: i };
    if (st.isSymbolicLink()) return { kind: 'symlink', at: '/' + parts.slice(0, i + 1).join('/') };
  }
  return { kind: 'exists' };
}

/** Creates `path` (absolute in the container) unless a symlink is on the way; init's chdir then follows it inside. */
export async function ensureDir(rootfs: string, path: string): Promise<void> {
  const w = await walk(rootfs, path);
  if (w.kind === 'missing') await mkdir(posix.join(rootfs, path), { recursive: true, mode: 0o755 });
}

/** A file of the image, or null when it is missing or a symlink. */
export async function readImageFile(rootfs: string, path: string): Promise<string | null> {
  if ((await walk(rootfs, path)).kind !== 'exists') return null;
  const st = await lstat(posix.join(rootfs, path));
  return st.isFile() ? readFile(posix.join(rootfs, path), 'utf8') : null;
}

/**
 * Parses `-v HOSTDIR:CTRDIR[:OPTS]`, OPTS a comma list of at most one of each
 * group, as docker takes them: ro or rw; z or Z (SELinux relabelling, no
 * effect without SELinux); private or rprivate (what every bind here is);
 * consistent, cached or delegated (macOS hints, no effect on Linux).
 */
export function parseVolume(spec: string): Bind {
  const parts = spec.split(':');
  const opts = parts.length === 3 ? parts[2]!.split(',') : [];
  const [source = '', target = ''] = parts;
  const groups = [['ro', 'rw'], ['z', 'Z'], ['private', 'rprivate'], ['consistent', 'cached', 'delegated']];
  const propagation = opts.find((o) => ['shared', 'rshared', 'slave', 'rslave'].includes(o));
  if (propagation) throw new UsageError(`invalid volume '${spec}': propagation '${propagation}' is not supported (binds are rprivate)`);
  const known = (o: string) => groups.some((g) => g.includes(o));
  const twice = groups.some((g) => opts.filter((o) => g.includes(o)).length > 1);
  if (parts.length < 2 || parts.length > 3 || !opts.every(known) || twice) {
    throw new UsageError(`invalid volume '${spec}': expected HOSTDIR:CTRDIR[:OPTIONS], OPTIONS from ro|rw, z|Z, private|rprivate, consistent|cached|delegated`);
  }
  const mode = opts.includes('ro') ? 'ro' : 'rw';
  if (!posix.isAbsolute(source) || !posix.isAbsolute(target)) throw new UsageError(`invalid volume '${spec}': both paths must be absolute`);
  if (posix.normalize(target) === '/') throw new UsageError(`invalid volume '${spec}': cannot mount over the container's /`);
  return { source: posix.normalize(source), target: posix.normalize(target), readonly: mode === 'ro' };
}

/** Makes the mount point of each volume in the rootfs, a dir or a file like its source. */
export async function prepareVolumes(rootfs: string, binds: Bind[]): Promise<void> {
  for (const b of binds) {
    // docker's -v makes a missing host directory (--mount refuses it before we get here).
    if (!(await lstat(b.source).catch(() => null))) await mkdir(b.source, { recursive: true, mode: 0o755 });
    const src = await lstat(b.source);
    const w = await walk(rootfs, b.target);
    if (w.kind === 'symlink') throw new UsageError(`volume target ${b.target}: ${w.at} is a symlink in the image`);
    if (w.kind === 'exists') continue;
    if (src.isDirectory()) await mkdir(posix.join(rootfs, b.target), { recursive: true, mode: 0o755 });
    else {
      await mkdir(posix.join(rootfs, posix.dirname(b.target)), { recursive: true, mode: 0o755 });
      await writeFile(posix.join(rootfs, b.target), '', { mode: 0o644 });
    }
  }
}

const MAX_LINKS = 40;

/**
 * The host path of container path `path` under `root`, following symlinks as
 * if `root` were `/` (an absolute link target starts again at `root`, `..`
 * stops there): nothing it returns is outside `root`. Missing components are
 * kept as they are. More than MAX_LINKS links is ELOOP, as the kernel's: a
 * link left unresolved would be followed by the host, out of `root`.
 */
export async function scopedPath(root: string, path: string): Promise<string> {
  const todo = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    const st = await lstat(here).catch(() => null);
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw fsError('ELOOP', 'readlink', '/' + [...done, part].join('/'));
      const target = await readlink(here);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}
