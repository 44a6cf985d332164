/**
 * `cp` between the host and a container's filesystem, with docker's rules:
 * a file onto a missing name is saved as that name, onto a directory goes
 * into it; a directory onto a missing name becomes it, into an existing
 * directory goes inside it, or only its contents with a trailing `/.`.
 * Container paths resolve as if the container's root were `/` (symlinks
 * included, except the last component's unless `follow`). A running
 * container's merged tree is used as it is; a stopped one is mounted for the
 * copy (writable when copying in: the copy lands in its upper layer).
 */
import { constants as fsc } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, readdir, readlink, realpath, rmdir, stat, symlink, unlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { LayerfsError, UsageError } from '../errors.js';
import { withLock } from '../store/lock.js';
import { isLive, loadState, pathsOf, type ContainerState } from './containers.js';
import { isMounted, mounters } from './rootfs.js';
import { parseVolume, scopedPath } from './rootfs-paths.js';
import { configOf } from './run.js';
import { whileFrozen } from './cgroups.js';

export interface CopyOptions {
  /** `-a`: keep the source's owners (else the copy belongs to root, as docker's). */
  archive?: boolean;
  /** `-L`: copy what a source symlink points to. */
  follow?: boolean;
}

/**
 * The container's tree for `fn`: a running one's as its processes see it
 * (/proc/PID/root: its volumes and tmpfs mounted, read-only where they are),
 * frozen meanwhile (its processes could swap a checked path for a symlink),
 * or a mount made for the time of the copy. That mount holds the container's
 * lock, as `start` does until its rootfs is up: a start waits for the copy
 * (two mounts cannot share the upper dir), and a copy after it sees the
 * container live. `path` is checked first against what docker refuses.
 */
async function withRootfs<T>(root: string, state: ContainerState, path: string, writable: boolean, fn: (rootfs: string) => Promise<T>): Promise<T> {
  const paths = pathsOf(root, state.id);
  const live = (s: ContainerState) => isLive(s) && s.pid !== undefined && isMounted(paths.merged);
  const inLive = (s: ContainerState) => {
    refused(s, path, writable, true);
    return whileFrozen(s.id, () => fn(`/proc/${s.pid}/root`));
  };
  if (live(state)) return inLive(state);
  return withLock(paths.dir, async () => {
    const now = await loadState(root, state.id);
    if (live(now)) return inLive(now);
    refused(now, path, writable, false);
    return withOwnMount(paths, now, writable, fn);
  });
}

/**
 * docker's refusals: a read-only rootfs or volume takes no copy. And the
 * volumes of a stopped container are not mounted here (docker mounts them
 * for the copy): a copy there would miss them, so it is refused.
 */
function refused(state: ContainerState, path: string, writing: boolean, live: boolean): void {
  const p = posix.normalize(`/${path}`);
  const volume = configOf(state).volumes.map(parseVolume).find((b) => p === b.target || p.startsWith(`${b.target}/`));
  if (volume && !live) throw new LayerfsError('VOLUME_NOT_MOUNTED', `${p} is in the volume at ${volume.target}, mounted only while the container runs: start it, or use ${volume.source} on the host`, { path: p });
  if (writing && volume?.readonly) throw new LayerfsError('READ_ONLY', 'mounted volume is marked read-only', { path: p });
  if (writing && !volume && state.isolation?.readOnly) throw new LayerfsError('READ_ONLY', 'container rootfs is marked read-only', { path: p });
}

async function withOwnMount<T>(paths: ReturnType<typeof pathsOf>, state: ContainerState, writable: boolean, fn: (rootfs: string) => Promise<T>): Promise<T> {
  const mnt = join(paths.dir, 'cp');
  await mkdir(mnt, { recursive: true });
  const lowerdirs = [paths.init, ...state.layers];
  const mount = await mounters[state.mounter].mount(writable
    ? { lowerdirs, upperdir: paths.upper, workdir: paths.work, merged: mnt, log: paths.log }
    : { lowerdirs: [paths.upper, ...lowerdirs], merged: mnt, log: paths.log });
  try {
    return await fn(mnt);
  } finally {
    await mount.unmount();
    await rmdir(mnt).catch(() => undefined);
  }
}

/**
 * A container path on the host: resolved inside `rootfs` (symlinks as if it
 * were `/`); the last component as named unless `follow`, or unless it is a
 * symlink we copy into (a destination).
 */
async function inRootfs(rootfs: string, path: string, follow: boolean): Promise<string> {
  const p = posix.normalize(`/${path}`);
  if (p === '/' || follow) return scopedPath(rootfs, p);
  return join(await scopedPath(rootfs, posix.dirname(p)), posix.basename(p));
}

/** docker's rules: where `src` lands for `dest` (host paths; the texts as the user wrote them, for the rules and errors). */
async function placement(src: string, srcText: string, dest: string, destText: string): Promise<string> {
  const from = await lstat(src).catch(() => null);
  if (!from) throw new LayerfsError('NOT_FOUND', `Could not find the file ${srcText}`, { path: srcText });
  if (!from.isDirectory() && /\/\.?$/.test(srcText)) throw new UsageError(`${srcText}: not a directory`);
  const to = await stat(dest).catch(() => null);
  // The name as the user gave it (docker's rebase name: `-L LINK` lands as LINK, not as its target's name); `/` is its contents.
  const name = posix.basename(srcText) || '.';
  let target = dest;
  if (from.isDirectory()) {
    if (to && !to.isDirectory()) throw new UsageError(`cannot copy a directory to a file: ${destText}`);
    if (to && !srcText.endsWith('/.')) target = join(dest, name);
  } else if (to?.isDirectory()) target = join(dest, name);
  else if (!to && destText.endsWith('/')) throw new LayerfsError('NOT_FOUND', `no such directory: ${destText}`, { path: destText });
  if (!(await stat(dirname(target)).catch(() => null))?.isDirectory()) throw new LayerfsError('NOT_FOUND', `no such directory: ${posix.dirname(destText)}`, { path: destText });
  return target;
}

/**
 * Copies `src` to `dest` entry by entry, never following a symlink on the
 * destination side (one in the container's tree could lead out of it): what
 * is in the way is replaced, but a directory is only ever entered if lstat
 * says it is one. Returns the size docker reports: that of the tar it would
 * have sent (a 512-byte header an entry, data in 512-byte blocks).
 */
async function copyTree(src: string, dest: string, archive: boolean): Promise<number> {
  const st = await lstat(src);
  const there = await lstat(dest).catch(() => null);
  let bytes = 512;
  if (there && !(st.isDirectory() && there.isDirectory())) {
    if (there.isDirectory()) throw new UsageError(`cannot overwrite directory ${dest} with non-directory ${src}`);
    await unlink(dest);
  }
  if (st.isDirectory()) {
    if (!there?.isDirectory()) await mkdir(dest, { mode: 0o700 });
    for (const name of await readdir(src)) bytes += await copyTree(join(src, name), join(dest, name), archive);
  } else if (st.isSymbolicLink()) await symlink(await readlink(src), dest);
  else if (st.isFile()) {
    await copyFile(src, dest, fsc.COPYFILE_EXCL);
    bytes += Math.ceil(st.size / 512) * 512;
  } else throw new UsageError(`${src}: cannot copy a ${st.isFIFO() ? 'FIFO' : st.isSocket() ? 'socket' : 'device file'}`);
  await lchown(dest, archive ? st.uid : 0, archive ? st.gid : 0);
  if (!st.isSymbolicLink()) await chmod(dest, st.mode & 0o7777);
  await lutimes(dest, st.atime, st.mtime);
  return bytes;
}

/** The two zero blocks that end a tar. */
const TAR_END = 1024;

/** `cp HOSTPATH CONTAINER:PATH`: the size copied, as docker counts it. */
export function copyIn(root: string, state: ContainerState, hostPath: string, path: string, opts: CopyOptions = {}): Promise<number> {
  return withRootfs(root, state, path, true, async (rootfs) => {
    const src = opts.follow ? await realpath(hostPath).catch(() => hostPath) : hostPath;
    // A destination that is a symlink is followed, inside the container.
    let dest = await inRootfs(rootfs, path, false);
    if ((await lstat(dest).catch(() => null))?.isSymbolicLink()) dest = await inRootfs(rootfs, path, true);
    return TAR_END + (await copyTree(src, await placement(src, hostPath, dest, path), opts.archive === true));
  });
}

/** `cp CONTAINER:PATH HOSTPATH`: the size copied, as docker counts it. */
export function copyOut(root: string, state: ContainerState, path: string, hostPath: string, opts: CopyOptions = {}): Promise<number> {
  return withRootfs(root, state, path, false, async (rootfs) => {
    const src = await inRootfs(rootfs, path, opts.follow === true);
    return TAR_END + (await copyTree(src, await placement(src, path, hostPath, hostPath), opts.archive === true));
  });
}
