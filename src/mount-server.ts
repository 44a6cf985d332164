/**
 * The mount server: one process serves every layerfs mount of a user (of one
 * build, see mountd-paths.ts), each by `mountOverlay` in process, so a further
 * mount costs its own tables and threads rather than a Node process. Clients
 * (mount-client.ts) send one JSON line, a `MountRequest`, and get one back:
 * `{ready: PID}` or `{error: REASON}`.
 *
 * A client that asks for a lifeline keeps its connection: when it closes (the
 * client died) the server unmounts that mount, lazily if busy; when the mount
 * ends (unmounted by anyone) the server answers `{closed: true}` and hangs up.
 *
 * States: starting (flock the build's lock, clean up after a dead
 * predecessor, listen) → serving (a mount or a request in flight) ⇄ idle (none:
 * exits after IDLE_MS) → gone. SIGTERM or SIGINT: every mount unmounted, exit.
 *
 * Containment: one mount's errors are answered per request with an errno by
 * the engine, and a mount that fails to start fails alone. If the process
 * dies anyway, the kernel sees its /dev/fuse fds close and aborts every
 * connection: accesses answer ENOTCONN instead of hanging, and lifeline
 * clients see their connection drop ('died').
 */
import { appendFileSync, openSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { reportToParent } from './daemon.js';
import { LayerfsError } from './errors.js';
import { detach, MountLedger } from './mount-ledger.js';
import { leaveCallerCgroup } from './mount-server-cgroup.js';
import { parseMountOptions } from './mount-options.js';
import { mountOverlay, overlaySpecOf, type OverlayMount } from './mount.js';
import type { MountdPaths } from './mountd-paths.js';
import { flock, LOCK_EX, LOCK_NB } from './sys.js';

export interface MountRequest {
  /** The `-o` options as formatMountOptions writes them, directories absolute. */
  options: string;
  mountpoint: string;
  /** mount(8)'s SOURCE: the fsname unless the options name one. */
  source?: string;
  /** Where this mount's messages go (default: the server's log). */
  logFile?: string;
  /** A directory removed once the mount has ended (an image mount's scratch upper). */
  removeOnExit?: string;
  /** The connection is the mount's lifeline (see above). */
  lifeline?: boolean;
  /** LAYERFS_FUSE_SPIN_US as the client has it. */
  spinUs?: number;
}

export type MountAnswer = { ready: number } | { error: string } | { closed: true };

/** How long the server stays after its last mount ended (LAYERFS_MOUNTD_IDLE_MS overrides). */
const IDLE_MS = 10_000;

export async function runMountServer(paths: MountdPaths): Promise<void> {
  const idleMs = Number(process.env.LAYERFS_MOUNTD_IDLE_MS ?? IDLE_MS);
  const lockFd = openSync(paths.lock, 'w', 0o600);
  try {
    flock(lockFd, LOCK_EX | LOCK_NB, paths.lock);
  } catch {
    // Another server of this build holds it (starting, serving or leaving): the client asks it.
    reportToParent('ready');
    return;
  }
  try {
    const dirs = leaveCallerCgroup();
    if (dirs.length > 0) log(`in cgroup ${dirs.join(', ')}`);
  } catch (err) {
    log(`staying in the caller's cgroup: ${(err as Error).message}`);
  }
  const ledger = new MountLedger(paths.dir, paths.ns);
  for (const m of ledger.sweep()) log(`detached ${m}, left dead by a mount server that died`);
  const mounts = new Set<OverlayMount>();
  /** Each mount's device (major:minor), to tell it from a later mount on the same mount point. */
  const devices = new Map<OverlayMount, string | undefined>();
  let pending = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  const server = createServer((socket) => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    pending++;
    void serve(socket).finally(() => {
      pending--;
      whenIdle();
    });
  });

  /** One connection: one request, its answer, and for a lifeline the mount's end. */
  async function serve(socket: Socket): Promise<void> {
    socket.on('error', () => {});
    const line = await firstLine(socket);
    if (line === undefined) return void socket.destroy();
    let req: MountRequest;
    try {
      req = JSON.parse(line) as MountRequest;
    } catch {
      return void socket.end(answer({ error: 'the mount server got a request it cannot read' }));
    }
    let gone = false;
    socket.once('close', () => (gone = true));
    const started = await start(req);
    if ('error' in started) return void socket.end(answer({ error: started.error }));
    const m = started.mount;
    if (!req.lifeline) return void socket.end(answer({ ready: process.pid }));
    socket.write(answer({ ready: process.pid }));
    // The runtime that owns this mount died: its container dies with it (PDEATHSIG), so a busy mount is detached lazily.
    const lost = () => takeDown(m);
    if (gone) lost();
    else socket.once('close', lost);
    void m.closed.then(() => {
      socket.off('close', lost);
      socket.end(answer({ closed: true }));
    });
  }

  async function start(req: MountRequest): Promise<{ mount: OverlayMount } | { error: string }> {
    // Written at once: a client that hears of a failure reads the log's tail right away. Messages are rare.
    const mountLog = (msg: string) => {
      if (req.logFile === undefined) return log(`${req.mountpoint}: ${msg}`);
      try {
        appendFileSync(req.logFile, `layerfs: ${msg}\n`);
      } catch {
        log(`${req.mountpoint}: ${msg}`);
      }
    };
    ledger.add(req.mountpoint);
    let m: OverlayMount;
    try {
      if (stopping) throw new LayerfsError('MOUNT_FAILED', 'the mount server is stopping');
      const spec = overlaySpecOf(parseMountOptions([req.options]), req.mountpoint, req.source);
      m = await mountOverlay({ ...spec, spinUs: req.spinUs, log: mountLog });
    } catch (err) {
      ledger.remove(req.mountpoint);
      mountLog((err as Error).message);
      return { error: (err as Error).message };
    }
    devices.set(m, mountDevice(req.mountpoint));
    mounts.add(m);
    void m.closed.then(async () => {
      if (req.removeOnExit !== undefined) await rm(req.removeOnExit, { recursive: true, force: true }).catch((err: Error) => mountLog(err.message));
      mounts.delete(m);
      devices.delete(m);
      ledger.remove(req.mountpoint);
      whenIdle();
    });
    return { mount: m };
  }

  /**
   * Unmounts `m`, lazily if busy, unless it has already left its mount point
   * (detached by someone): then what is mounted there now is not ours, and
   * `m` ends once the kernel lets go of it. (A mount point the table names
   * otherwise, through a symlink, has no device known: it is taken down.)
   */
  function takeDown(m: OverlayMount): void {
    const dev = devices.get(m);
    if (dev !== undefined && mountDevice(m.mountpoint) !== dev) return;
    void m.unmount().catch(() => detach(m.mountpoint));
  }

  function whenIdle(): void {
    if (mounts.size > 0 || pending > 0 || idleTimer !== undefined) return;
    if (stopping) return leave();
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (mounts.size === 0 && pending === 0) leave();
    }, idleMs);
  }

  /** The socket goes before the lock (at exit): a client that finds no socket starts a server, which waits for the lock. */
  function leave(): void {
    server.close();
    rmSync(paths.socket, { force: true });
    ledger.drop();
    process.exit(0);
  }

  const stop = () => {
    if (stopping) return;
    stopping = true;
    log(`stopping: unmounting ${mounts.size} mount(s)`);
    for (const m of mounts) takeDown(m);
    whenIdle();
    // A mount kept busy ends with the process: the kernel aborts its connection.
    setTimeout(leave, 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {});
  // A stray rejection in one mount's code must not end the process that serves all of them.
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));

  rmSync(paths.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, () => resolve());
  });
  log(`serving mounts on ${paths.socket}`);
  reportToParent('ready');
  whenIdle();
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} layerfs mountd[${process.pid}]: ${msg}\n`);
}

/**
 * The device of the topmost mount at `mountpoint`, from the mount table: a
 * stat would ask the mount itself, which this very thread serves.
 */
function mountDevice(mountpoint: string): string | undefined {
  let dev: string | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] !== undefined && f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === mountpoint) dev = f[2];
  }
  return dev;
}

const answer = (a: MountAnswer) => JSON.stringify(a) + '\n';

/** The first line a client sends, or undefined when it hangs up first. */
function firstLine(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString('utf8');
      const nl = got.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      // A lifeline says nothing more; its data (if any) is read and dropped so the socket sees the close.
      socket.on('data', () => {});
      resolve(got.slice(0, nl));
    };
    const onClose = () => resolve(undefined);
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
