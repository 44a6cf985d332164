/**
 * Handing a mount to the mount server (mount-server.ts), starting one if none
 * is listening: two first mounts at once may both start one, but only the one
 * that takes the build's lock serves; the other exits and its client connects
 * to the winner. Resolves once the mount is ready, or fails as a mount daemon
 * does (MOUNT_FAILED and the reason).
 */
import { connect, type Socket } from 'node:net';
import { LAYERFS_BIN, spawnDaemon, type MountDaemonSpec } from './daemon.js';
import { LayerfsError } from './errors.js';
import { formatMountOptions, withAbsolutePaths } from './mount-options.js';
import type { MountAnswer, MountRequest } from './mount-server.js';
import { mountdPaths, type MountdPaths } from './mountd-paths.js';

export interface ServedMount {
  /** The server's pid (shared by its other mounts: never kill it for one mount). */
  readonly pid: number;
  /**
   * With a lifeline: 'unmounted' once the server says the mount ended,
   * 'lost' when the connection drops first (the server died).
   */
  readonly ended: Promise<'unmounted' | 'lost'>;
  /** Hangs up the lifeline: the server unmounts the mount, lazily if busy. */
  release(): void;
}

/** How long a client keeps trying to reach a server (starting one as needed). */
const CONNECT_MS = 20_000;

export async function requestMount(spec: MountDaemonSpec, paths: MountdPaths = mountdPaths()): Promise<ServedMount> {
  const spin = process.env.LAYERFS_FUSE_SPIN_US;
  const req: MountRequest = {
    options: formatMountOptions(withAbsolutePaths(spec)),
    mountpoint: spec.mountpoint,
    source: spec.source,
    logFile: spec.logFile,
    removeOnExit: spec.removeOnExit,
    lifeline: spec.lifeline,
    spinUs: spin !== undefined && Number(spin) >= 0 ? Number(spin) : undefined,
  };
  // A server that leaves (idle) just as we connect hangs up without an answer: that request was never taken.
  for (let attempt = 1; ; attempt++) {
    const socket = await connectServer(paths);
    const lines = readLines(socket);
    socket.write(JSON.stringify(req) + '\n');
    const first = await lines.next();
    if (first === undefined) {
      socket.destroy();
      if (attempt < 3) continue;
      throw new LayerfsError('MOUNT_FAILED', `the mount server hung up without an answer (see ${paths.log})`);
    }
    if ('error' in first) {
      socket.destroy();
      throw new LayerfsError('MOUNT_FAILED', first.error);
    }
    if (!('ready' in first)) throw new LayerfsError('MOUNT_FAILED', 'the mount server answered out of turn');
    if (!spec.lifeline) socket.end();
    // Held open, never written: only our death (or release) closes it. It must not keep our event loop alive.
    else socket.unref();
    const ended = lines.next().then((a) => (a !== undefined && 'closed' in a ? ('unmounted' as const) : ('lost' as const)));
    return { pid: first.ready, ended, release: () => void socket.destroy() };
  }
}

/** Connects to the server, starting one when nobody listens. */
async function connectServer(paths: MountdPaths): Promise<Socket> {
  const deadline = Date.now() + CONNECT_MS;
  for (let tries = 0; ; tries++) {
    try {
      return await connectOnce(paths.socket);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) {
        throw new LayerfsError('MOUNT_FAILED', `cannot reach the mount server at ${paths.socket}: ${(err as Error).message}`);
      }
      // Every second of no answer (a server that was leaving, one that lost the race), start one again.
      if (tries % 20 === 0) {
        const server = await spawnDaemon([LAYERFS_BIN, 'mountd', '--dir', paths.dir], paths.log, false, 'the mount server');
        server.detach();
        continue;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The server's answers, one JSON line each; undefined once it has hung up. */
function readLines(socket: Socket): { next(): Promise<MountAnswer | undefined> } {
  const queue: Array<MountAnswer | undefined> = [];
  const waiting: Array<(a: MountAnswer | undefined) => void> = [];
  const push = (a: MountAnswer | undefined) => (waiting.length ? waiting.shift()!(a) : queue.push(a));
  let got = '';
  let ended = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    got += chunk;
    for (let nl = got.indexOf('\n'); nl >= 0; nl = got.indexOf('\n')) {
      const line = got.slice(0, nl);
      got = got.slice(nl + 1);
      try {
        push(JSON.parse(line) as MountAnswer);
      } catch {
        push({ error: `the mount server answered ${JSON.stringify(line.slice(0, 80))}` });
      }
    }
  });
  socket.once('close', () => {
    ended = true;
    push(undefined);
  });
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : ended ? Promise.resolve(undefined) : new Promise((r) => waiting.push(r))),
  };
}
