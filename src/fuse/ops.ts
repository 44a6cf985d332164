/**
 * The FUSE operation table of the overlay: a thin layer that hands each request
 * to Overlay and shows ids through the mount's id mapping. No overlay logic and
 * no error handling here: the binding turns whatever a handler throws into an
 * errno, in one place.
 */
import { ftruncateSync } from 'node:fs';
import type { Overlay } from '../overlay/overlay.js';
import { ST, type StatBuf } from '../sys.js';
import { toDisk, toShown, type IdMapping } from '../id-mapping.js';
import type { Caller, FuseOps } from './binding.js';

export interface IdView {
  uidMapping?: IdMapping;
  gidMapping?: IdMapping;
  squashUid?: number;
  squashGid?: number;
}

const NO_ID = 0xffffffff; // (uid_t)-1 in chown: leave unchanged

export function overlayOps(ov: Overlay, ids: IdView = {}): FuseOps {
  const mapped = ids.uidMapping || ids.gidMapping || ids.squashUid !== undefined || ids.squashGid !== undefined;

  // Stats may be cached by the overlay: map a copy, never the original.
  const show = (st: StatBuf): StatBuf => {
    if (!mapped) return st;
    const out = st.slice();
    const uid = out[ST.uid]!;
    const gid = out[ST.gid]!;
    out[ST.uid] = ids.squashUid ?? (ids.uidMapping ? toShown(ids.uidMapping, uid) : uid);
    out[ST.gid] = ids.squashGid ?? (ids.gidMapping ? toShown(ids.gidMapping, gid) : gid);
    return out;
  };
  const diskUid = (uid: number) => (uid === NO_ID || !ids.uidMapping ? uid : toDisk(ids.uidMapping, uid));
  const diskGid = (gid: number) => (gid === NO_ID || !ids.gidMapping ? gid : toDisk(ids.gidMapping, gid));
  const onDisk = (c: Caller): Caller => (mapped ? { ...c, uid: diskUid(c.uid), gid: diskGid(c.gid) } : c);

  return {
    getattr: (path) => show(ov.getattr(path)),
    lookup: (path) => {
      const r = ov.lookup(path);
      return { stat: show(r.stat), shared: r.shared };
    },
    fgetattr: (path, fh) => show(ov.fgetattr(path, fh)),
    readdir: (path) => {
      // libfuse's high-level API lists '.' and '..' only if the filesystem does.
      const d = ov.readdir(path);
      const parent = path === '/' ? '/' : path.slice(0, path.lastIndexOf('/')) || '/';
      const names = ['.', '..', ...d.names];
      const stats = [ov.lookup(path).stat, ov.lookup(parent).stat, ...d.stats];
      return { names, stats: mapped ? stats.map(show) : stats };
    },
    readlink: (path) => ov.readlink(path),
    statfs: (path) => {
      const s = ov.statfs(path);
      return { ...s, favail: s.ffree, fsid: 0, flag: 0 };
    },
    getxattr: (path, name) => ov.getxattr(path, name),
    listxattr: (path) => ov.listxattr(path),

    open: (path, flags, c) => ov.open(path, flags, onDisk(c)),
    create: (path, mode, flags, c) => ov.create(path, mode, flags, onDisk(c)),
    release: (_path, fh) => ov.release(fh),
    onUpper: (fh) => ov.onUpper(fh),
    truncate: (path, size, c) => ov.truncate(path, size, onDisk(c)),
    ftruncate: (_path, fh, size) => ftruncateSync(fh, size),
    fsyncdir: () => {},

    chmod: (path, mode, c) => ov.chmod(path, mode, onDisk(c)),
    chown: (path, uid, gid, c) => ov.chown(path, diskUid(uid), diskGid(gid), onDisk(c)),
    utimens: (path, atime, mtime, c) => ov.utimens(path, atime, mtime, onDisk(c)),
    setxattr: (path, name, value, flags, c) => ov.setxattr(path, name, value, flags, onDisk(c)),
    removexattr: (path, name, c) => ov.removexattr(path, name, onDisk(c)),

    mknod: (path, mode, dev, c) => ov.mknod(path, mode, dev, onDisk(c)),
    mkdir: (path, mode, c) => ov.mkdir(path, mode, onDisk(c)),
    symlink: (target, path, c) => ov.symlink(target, path, onDisk(c)),
    link: (existing, newPath, c) => ov.link(existing, newPath, onDisk(c)),
    unlink: (path, c) => ov.unlink(path, onDisk(c)),
    rmdir: (path, c) => ov.rmdir(path, onDisk(c)),
    rename: (from, to, c) => ov.rename(from, to, onDisk(c)),
  };
}
