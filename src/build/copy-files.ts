/**
 * COPY and ADD into a mounted root filesystem (the step's overlay, so what
 * they write lands in its upper dir and becomes the layer). Docker's rules:
 * - a file goes to DEST, or into DEST when DEST ends in `/` or is a directory;
 * - a directory's contents (not the directory) go into DEST;
 * - several sources (named or matched by a glob) need a DEST that ends in `/`;
 * - new files are owned by 0:0 unless `--chown` (or, with `--from`, keep
 *   the owners they had there), keep their mode unless `--chmod`, and keep
 *   their mtime;
 * - ADD unpacks a local tar (plain, gzip, bzip2, xz or zstd) into DEST, keeping the
 *   owners in the archive;
 * - files hard-linked to each other inside one source (a directory or an
 *   archive) stay hard-linked, as Docker's tar-based copy keeps them.
 */
import { chmod, copyFile, lchown, link, lutimes, mkdir, mkdtemp, readlink, rm, symlink, lstat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import type { Stats } from 'node:fs';
import { DockerfileError } from '../errors.js';
import { unpack } from '../store/unpack.js';
import { archiveBytes, isTar } from './archive.js';
import { SourceRoot, type Source } from './source-root.js';
import { scopedPath } from '../runtime/rootfs-paths.js';

export interface CopySpec {
  sources: Source[];
  from: SourceRoot;
  /** Absolute path in the image. */
  dest: string;
  /** DEST ends in `/`. */
  destIsDir: boolean;
  owner?: { uid: number; gid: number };
  /** `COPY --from` without `--chown` keeps the owners the files have in the stage or image, as Docker's builder does. */
  preserveOwner?: boolean;
  chmod?: number;
  /** ADD: unpack local archives. */
  add: boolean;
  /** A dir under the store's tmp for unpacking archives. */
  scratch: string;
}

interface Meta { mode: number; uid: number; gid: number; mtime: Date }

/** `mkdir -p` of container path `path` in `rootfs` (symlinks followed inside it); new dirs are 0755 and owned by `owner` (root). */
export async function makeDirs(rootfs: string, path: string, owner = { uid: 0, gid: 0 }): Promise<void> {
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const host = await scopedPath(rootfs, '/' + parts.slice(0, i).join('/'));
    const st = await lstat(host).catch(() => null);
    if (st?.isDirectory()) continue;
    if (st) throw new DockerfileError(`cannot make ${path}: /${parts.slice(0, i).join('/')} is not a directory`);
    await mkdir(host, { mode: 0o755 });
    await lchown(host, owner.uid, owner.gid);
  }
}

export async function copyFiles(rootfs: string, spec: CopySpec): Promise<void> {
  const ownerOf = (st: Stats, keepOwner: boolean) => (keepOwner ? { uid: st.uid, gid: st.gid } : (spec.owner ?? { uid: 0, gid: 0 }));
  const metaOf = (st: Stats, keepOwner = false): Meta => ({
    mode: spec.chmod !== undefined ? spec.chmod : st.mode & 0o7777,
    ...ownerOf(st, keepOwner),
    mtime: st.mtime,
  });
  const ensureDir = (path: string) => makeDirs(rootfs, path, spec.owner);
  /** `dev:ino` of a multiply-linked source file → the host path of its first copy (per source). */
  let copied = new Map<string, string>();

  const setMeta = async (host: string, m: Meta, isLink = false) => {
    await lchown(host, m.uid, m.gid);
    if (!isLink) await chmod(host, m.mode);
    await lutimes(host, m.mtime, m.mtime);
  };

  /**
   * Copies one entry to container path `to` (a directory with its contents).
   * `parent` is the host path of `to`'s directory when the caller has it, and
   * `fresh` says that directory was just made (so nothing is in the way).
   */
  const put = async (abs: string, rel: string, st: Stats, to: string, src: SourceRoot, keepOwner: boolean, parent?: string, fresh = false) => {
    let host = parent === undefined ? await scopedPath(rootfs, to) : join(parent, posix.basename(to));
    let there = fresh ? null : await lstat(host).catch(() => null);
    if (there?.isSymbolicLink() && st.isDirectory()) {
      host = await scopedPath(rootfs, to);
      there = await lstat(host).catch(() => null);
    }
    if (st.isDirectory()) {
      if (there && !there.isDirectory()) await rm(host, { recursive: true, force: true });
      const made = !there?.isDirectory();
      if (made) await mkdir(host, { mode: 0o700 });
      for await (const e of src.walk(rel, 1, abs)) await put(e.abs, e.rel, e.stat, posix.join(to, basename(e.abs)), src, keepOwner, host, made);
      await setMeta(host, metaOf(st, keepOwner));
      return;
    }
    if (there) await rm(host, { recursive: true, force: true });
    if (st.isSymbolicLink()) {
      await symlink(await readlink(abs), host);
      await setMeta(host, metaOf(st, keepOwner), true);
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? copied.get(key) : undefined;
      if (first !== undefined) return link(first, host);
      await copyFile(abs, host);
      await setMeta(host, metaOf(st, keepOwner));
      if (st.nlink > 1) copied.set(key, host);
    }
    // Sockets, fifos and devices in a context are not copied, as Docker skips them.
  };

  if (spec.sources.length > 1 && !spec.destIsDir) {
    throw new DockerfileError(`${spec.add ? 'ADD' : 'COPY'} of more than one source: the destination must be a directory and end with a /: ${spec.dest}`);
  }
  for (const s of spec.sources) {
    copied = new Map();
    if (spec.add && s.stat.isFile() && (await isTar(s.abs))) {
      await ensureDir(spec.dest);
      const tmp = await mkdtemp(join(spec.scratch, 'add-'));
      try {
        await unpack(archiveBytes(s.abs), tmp, { source: s.rel });
        const unpacked = new SourceRoot(tmp, `archive ${s.rel}`);
        for await (const e of unpacked.walk('', 1)) await put(e.abs, e.rel, e.stat, posix.join(spec.dest, e.rel), unpacked, true);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      continue;
    }
    if (s.stat.isDirectory()) {
      await ensureDir(spec.dest);
      for await (const e of spec.from.walk(s.rel, 1, s.abs)) await put(e.abs, e.rel, e.stat, posix.join(spec.dest, basename(e.abs)), spec.from, spec.preserveOwner === true);
      continue;
    }
    const host = await scopedPath(rootfs, spec.dest);
    const intoDir = spec.destIsDir || (await lstat(host).catch(() => null))?.isDirectory() === true;
    const to = intoDir ? posix.join(spec.dest, basename(s.rel || s.abs)) : spec.dest;
    await ensureDir(posix.dirname(to));
    await put(s.abs, s.rel, s.stat, to, spec.from, spec.preserveOwner === true);
  }
}
