/**
 * Where the mount server (src/mount-server.ts) and its clients meet: one
 * private directory per user, and in it one socket and one lock per build of
 * layerfs, so a client only ever talks to a server running its own code
 * (after an upgrade or a rebuild the old server keeps its mounts and exits
 * once they end; new mounts start a new one).
 *
 *   /run/layerfs (root), $XDG_RUNTIME_DIR/layerfs, else /tmp/layerfs-UID;
 *   LAYERFS_MOUNTD_DIR overrides (tests use a private one).
 *     mountd-BUILD.sock   the server's socket
 *     mountd-BUILD.lock   flock'd by the one server of that build for its life
 *     mountd.log          the servers' own log (a mount's goes to its --log file)
 *     owned-PID           the mount points server PID serves, for its successor
 *                         to clean up should it die (mount-ledger.ts)
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LAYERFS_BIN } from './daemon.js';
import { LayerfsError } from './errors.js';
import { version } from './version.js';

export interface MountdPaths {
  dir: string;
  socket: string;
  lock: string;
  log: string;
}

export function mountdDir(): string {
  if (process.env.LAYERFS_MOUNTD_DIR) return process.env.LAYERFS_MOUNTD_DIR;
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/layerfs';
  return process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'layerfs') : `/tmp/layerfs-${uid}`;
}

let build: string | undefined;

/**
 * This build: where it is installed, its version, and when the server's code
 * was compiled. The same from src/ (tests) as from dist/: the server always
 * runs from dist/, started through bin/.
 */
function buildId(): string {
  if (build !== undefined) return build;
  const root = realpathSync(dirname(dirname(LAYERFS_BIN)));
  const server = join(root, 'dist', 'mount-server.js');
  const code = `${root}\0${version}\0${statSync(server, { throwIfNoEntry: false })?.mtimeMs ?? 0}`;
  build = createHash('sha256').update(code).digest('hex').slice(0, 12);
  return build;
}

/**
 * The paths in `dir`, made if missing. A server of root's mounts takes requests
 * from anyone who can reach its socket, so the directory must be ours alone.
 */
export function mountdPaths(dir = mountdDir()): MountdPaths {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new LayerfsError('MOUNT_FAILED', `${dir} must be a directory of uid ${uid} with mode 0700, to hold the mount server's socket`, { path: dir });
  }
  const id = buildId();
  return { dir, socket: join(dir, `mountd-${id}.sock`), lock: join(dir, `mountd-${id}.lock`), log: join(dir, 'mountd.log') };
}
