/**
 * Where the mount server (src/mount-server.ts) and its clients meet: one
 * private directory per user, and in it one socket and one lock per build of
 * layerfs and set of namespaces. So a client only ever talks to a server
 * running its own code (after an upgrade or a rebuild the old server keeps
 * its mounts and exits once they end; new mounts start a new one), and one
 * that mounts where the client would: a mount program run by rootless podman
 * in its user and mount namespaces gets a server of its own there.
 *
 *   /run/layerfs (root), $XDG_RUNTIME_DIR/layerfs, else /tmp/layerfs-UID;
 *   LAYERFS_MOUNTD_DIR overrides (tests use a private one).
 *     mountd-ID.sock      the server's socket (ID: the build and namespaces)
 *     mountd-ID.lock      flock'd by the one server of that ID for its life
 *     mountd.log          the servers' own log (a mount's goes to its --log file)
 *     owned-NS-PID        the mount points server PID (of namespaces NS) serves,
 *                         for its successor to clean up should it die (mount-ledger.ts)
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LAYERFS_BIN } from './daemon.js';
import { LayerfsError } from './errors.js';
import { version } from './version.js';

export interface MountdPaths {
  dir: string;
  /** This process's mount, user and pid namespaces, hashed: a ledger's pids and mount points mean something only there. */
  ns: string;
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

const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

function namespaces(): string {
  return hash(['mnt', 'user', 'pid'].map((n) => {
    try {
      return readlinkSync(`/proc/self/ns/${n}`);
    } catch {
      return n;
    }
  }).join(' '));
}

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
  build = hash(code);
  return build;
}

/**
 * The paths in `dir`, made if missing. A server of root's mounts takes requests
 * from anyone who can reach its socket, so the directory must be ours alone.
 * MOUNTD_UNAVAILABLE when it cannot be had (the mount then gets a daemon of its own).
 */
export function mountdPaths(dir = mountdDir()): MountdPaths {
  const uid = process.getuid?.() ?? 0;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) throw new Error(`not a directory of uid ${uid} with mode 0700`);
  } catch (err) {
    throw new LayerfsError('MOUNTD_UNAVAILABLE', `${dir} cannot hold the mount server's socket: ${(err as Error).message}`, { path: dir });
  }
  const ns = namespaces();
  const id = hash(`${buildId()} ${ns}`);
  return { dir, ns, socket: join(dir, `mountd-${id}.sock`), lock: join(dir, `mountd-${id}.lock`), log: join(dir, 'mountd.log') };
}
