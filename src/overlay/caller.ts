/**
 * Who a new entry belongs to. The overlay runs as root, so it creates entries
 * itself and then hands them to the caller, as the kernel would have created
 * them: owner = caller, group = caller's, or the parent's when the parent is
 * setgid (and a new directory then inherits S_ISGID).
 */
import { ST, type StatBuf } from '../sys.js';

export interface Caller {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

export const S_ISGID = 0o2000;

export interface NewOwner {
  uid: number;
  gid: number;
  /** Permission bits to set, umask applied and S_ISGID inherited for directories. */
  mode: number;
}

export function newOwner(c: Caller, parent: StatBuf, mode: number, isDirectory: boolean): NewOwner {
  const setgidParent = (parent[ST.mode]! & S_ISGID) !== 0;
  let perm = mode & 0o7777 & ~c.umask;
  if (isDirectory && setgidParent) perm |= S_ISGID;
  return { uid: c.uid, gid: setgidParent ? parent[ST.gid]! : c.gid, mode: perm };
}
