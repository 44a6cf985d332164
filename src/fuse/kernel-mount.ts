/**
 * Mounting and unmounting a FUSE connection without libfuse: mount(2) as
 * root, fusermount3 (which passes the /dev/fuse fd back) for other users.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { FsError } from '../errors.js';
import { unmountFuse } from '../sys.js';
import { native } from './engine-native.js';

export interface KernelMountOptions {
  fsname: string;
  readonly: boolean;
  allowOther: boolean;
  suid: boolean;
  dev: boolean;
}

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;

/** Mounts a FUSE filesystem at `mountpoint`; returns the connection's /dev/fuse fd. */
export function kernelMount(mountpoint: string, opts: KernelMountOptions): number {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  // fusermount3 lets other users in only where /etc/fuse.conf says user_allow_other.
  const allowOther = opts.allowOther && (uid === 0 || userAllowOther());
  const common = `rootmode=40000,user_id=${uid},group_id=${gid},default_permissions${allowOther ? ',allow_other' : ''}`;
  if (uid === 0) {
    const fd = openSync('/dev/fuse', 'r+');
    const flags = (opts.readonly ? MS_RDONLY : 0) | (opts.suid ? 0 : MS_NOSUID) | (opts.dev ? 0 : MS_NODEV);
    const r = native.mount(opts.fsname, mountpoint, 'fuse.layerfs', flags, `fd=${fd},${common}`);
    if (r < 0) {
      closeSync(fd);
      throw FsError.fromErrno(r, 'mount', mountpoint);
    }
    return fd;
  }
  const o = `fsname=${opts.fsname},subtype=layerfs,${common}${opts.readonly ? ',ro' : ''}${opts.suid ? '' : ',nosuid'}${opts.dev ? '' : ',nodev'}`;
  const fd = native.fusermount('fusermount3', mountpoint, o);
  if (fd < 0) {
    throw new FsError(FsError.fromErrno(fd, 'mount').code, 'fusermount3', mountpoint, 'fusermount3 could not mount (its own message is above)');
  }
  return fd;
}

export async function kernelUnmount(mountpoint: string): Promise<void> {
  if ((process.getuid?.() ?? 0) !== 0) return unmountFuse(mountpoint);
  const r = native.umount(mountpoint, 0);
  if (r < 0) throw FsError.fromErrno(r, 'umount', mountpoint);
}

function userAllowOther(): boolean {
  try {
    return /^\s*user_allow_other\s*$/m.test(readFileSync('/etc/fuse.conf', 'utf8'));
  } catch {
    return false;
  }
}
