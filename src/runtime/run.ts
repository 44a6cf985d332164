/**
 * `run`: find the image, create a container, mount its layers under a fresh
 * upper dir, start the command in its own namespaces, wait, clean up.
 *
 * Every run of a container, in the foreground (`runContainer`) or under a
 * supervisor (supervisor.ts, for `run -d`, `start`, restarts), goes through
 * `runAttempt`: `setUp` before init starts (init layer, rootfs mount, the
 * tree's mount points), `tearDown` after it exits. reconcile.ts calls
 * `tearDown` too, for a container whose runtime was killed.
 *
 * The runtime watches both the command and the FUSE daemon serving the
 * rootfs. If the daemon dies first, the container is killed and marked
 * failed; either way the rootfs is unmounted before the attempt returns.
 * The daemon holds a lifeline to the runtime: if the runtime is killed, the
 * daemon unmounts and exits, and init dies with it (PR_SET_PDEATHSIG).
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { LayerfsError, UsageError } from '../errors.js';
import { Store } from '../store/store.js';
import { ensureBuiltin } from '../store/hello-world.js';
import {
  createContainer, newId, pathsOf, processAlive, processStartTime, removeContainerDir, saveState,
  type ContainerPaths, type ContainerState, type LogConfig, type RestartPolicy, type RunConfig,
} from './containers.js';
import { shortId } from '../oci/digest.js';
import { startInit, type InitProcess, type InitSpec, type Tmpfs } from './init.js';
import { JsonFileLog } from './json-log.js';
import { parsePublish } from './network/ports.js';
import { parseSignal } from './signals.js';
import { processSpec, withHome } from './process-spec.js';
import { forceUnmount, mounters, type MounterName, type RootfsMount } from './rootfs.js';
import { makeInitLayer } from './init-layer.js';
import { ensureDir, parseVolume, prepareVolumes, readImageFile } from './rootfs-paths.js';
import { resolveUser } from './users.js';
import { confinementArgs, DEFAULT_ISOLATION, type IsolationOptions } from './isolation.js';
import { createCgroup, DEFAULT_DEVICE_RULES, removeCgroup, type ContainerCgroup } from './cgroups.js';
import { deviceCgroupRule } from './devices.js';
import { attachNetwork, releaseNetwork, type Attachment } from './network/attach.js';

/** The runtime's own exit status when it, not the command, failed (docker's convention). */
export const RUNTIME_FAILED = 125;

export interface RunOptions {
  /** The store root (Store.open's default when omitted). */
  root?: string;
  image: string;
  /** CMD...: replaces the image's Cmd. */
  command?: string[];
  /** Replaces the image's Entrypoint ([] for none) and, as docker's --entrypoint, drops the image's Cmd. */
  entrypoint?: string[];
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  /** bridge (the default), none, host or container:NAME. */
  network?: string;
  /** `-p [IP:][HOSTPORT:]CTRPORT[/tcp|udp]` values, `--add-host HOST:IP` values, `--dns` servers. */
  publish?: string[];
  addHosts?: string[];
  dns?: string[];
  /** `HOSTDIR:CTRDIR[:ro]` */
  volumes?: string[];
  /** `PATH[:OPTS]` */
  tmpfs?: string[];
  /** `--init`: a reaper as PID 1. */
  init?: boolean;
  interactive?: boolean;
  tty?: boolean;
  /** Remove the container afterwards, whatever happened. */
  remove?: boolean;
  mounter?: MounterName;
  /** Forward SIGINT, SIGTERM and SIGHUP of this process to the container. */
  forwardSignals?: boolean;
  /** File descriptors for the command's stdout and stderr (default: ours). */
  stdout?: number;
  stderr?: number;
  /**
   * The output passes through this process on its way to stdout and stderr,
   * and into the json-file log, as docker's: the command sees pipes, not our
   * terminal, and `logs` shows it afterwards. Not with a terminal (`-t`).
   */
  logOutput?: boolean;
  /** `-P`: every exposed port (the image's and `expose`'s) published on a port the kernel picks. */
  publishAll?: boolean;
  /** `--expose PORT[/PROTO]`: exposed as the image's EXPOSE would. */
  expose?: string[];
  /** `--label`s, over the image's. */
  labels?: Record<string, string>;
  /** `--stop-signal` (default: the image's StopSignal, else SIGTERM). */
  stopSignal?: string;
  /** Detached runs only (supervisor.ts): `--restart` and `--log-opt`. */
  restart?: RestartPolicy;
  logConfig?: LogConfig;
  /** Called once the command runs. */
  onStart?: (state: ContainerState) => void;
  /** Called once the container exists, before its command starts (`build` prints "Running in" then, as docker does). */
  onCreate?: (state: ContainerState) => void;
  /** Messages from the runtime itself (default: stderr). */
  log?: (msg: string) => void;
  /** Capabilities, seccomp, masks, limits (default: docker's defaults). */
  isolation?: IsolationOptions;
}

export interface RunResult {
  id: string;
  name: string;
  exitCode: number;
  status: ContainerState['status'];
  error?: string;
  /** Our stdout or stderr was a pipe whose reader went away: the container was killed (the CLI then ends as by SIGPIPE). */
  outputClosed?: boolean;
}

const isDisconnected = (path: string) => stat(path).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOTCONN');

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** `--expose 80`, `--expose 53/udp`: the ExposedPorts key. */
function exposedPort(spec: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(spec);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new UsageError(`invalid --expose '${spec}': want PORT[/tcp|udp]`);
  return `${Number(m[1])}/${m[2] ?? 'tcp'}`;
}

/** What the network publishes: the `-p` values, then with `-P` each exposed port they leave out. */
export function publishedPorts(c: RunConfig): string[] {
  const named = new Set(c.publish.map(parsePublish).map((m) => `${m.containerPort}/${m.proto}`));
  return [...c.publish, ...(c.publishAll ? (c.exposedPorts ?? []).filter((p) => !named.has(p)) : [])];
}

/** `--tmpfs PATH[:OPTS]` */
export function parseTmpfs(spec: string): Tmpfs {
  const colon = spec.indexOf(':');
  const target = colon < 0 ? spec : spec.slice(0, colon);
  if (!posix.isAbsolute(target) || posix.normalize(target) === '/') throw new UsageError(`invalid --tmpfs '${spec}': the path must be absolute and not /`);
  return { target: posix.normalize(target), options: colon < 0 ? '' : spec.slice(colon + 1) };
}

/** `docker create`: the record, with the run configuration resolved from the image and the flags, and the image's hold. */
export async function createFromImage(opts: RunOptions): Promise<{ store: Store; state: ContainerState }> {
  const store = await Store.open(opts.root);
  const img = await ensureBuiltin(store, opts.image);
  const image = (await store.config(img)).config ?? {};
  const id = newId();
  const hostname = opts.hostname ?? shortId(id);
  const entrypoint = opts.entrypoint ?? image.Entrypoint ?? [];
  const cmd = opts.command?.length ? opts.command : opts.entrypoint === undefined ? image.Cmd ?? [] : [];
  const spec = processSpec({ ...image, Entrypoint: entrypoint, Cmd: cmd }, { command: [], env: opts.env, workdir: opts.workdir, user: opts.user, hostname, tty: opts.tty });
  (opts.volumes ?? []).forEach(parseVolume);
  (opts.tmpfs ?? []).forEach(parseTmpfs);
  if (opts.stopSignal !== undefined) parseSignal(opts.stopSignal);
  const exposed = [...new Set([...Object.keys(image.ExposedPorts ?? {}), ...(opts.expose ?? []).map(exposedPort)])];
  (opts.publish ?? []).forEach(parsePublish);
  const config: RunConfig = {
    entrypoint, cmd, env: spec.env, cwd: spec.cwd, user: spec.user, hostname, network: opts.network ?? 'bridge',
    publish: opts.publish ?? [], exposedPorts: exposed, publishAll: opts.publishAll === true, addHosts: opts.addHosts ?? [], dns: opts.dns ?? [],
    volumes: opts.volumes ?? [], tmpfs: opts.tmpfs ?? [], init: opts.init === true, tty: opts.tty === true,
    interactive: opts.interactive === true, stopSignal: opts.stopSignal ?? image.StopSignal ?? 'SIGTERM',
    // Sorted, as Go's JSON writes a map (inspect) and so ps lists them the same way each time.
    labels: Object.fromEntries(Object.entries({ ...image.Labels, ...opts.labels }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    restart: opts.restart ?? { name: 'no', maximumRetryCount: 0 }, log: opts.logConfig ?? { maxFile: 1 }, autoRemove: opts.remove === true,
  };
  const mounter = mounters[opts.mounter ?? 'layerfs'];
  const state = await createContainer(store.root, {
    id, name: opts.name, image: opts.image, imageId: img.id, layers: store.layerDirs(img), args: spec.args, mounter: mounter.name, config,
    isolation: opts.isolation ?? DEFAULT_ISOLATION,
  });
  try {
    await store.hold(id, img.id, `container ${state.name}`);
  } catch (err) {
    await removeContainerDir(store.root, id);
    throw err;
  }
  return { store, state };
}

/** Marks the record as run by this process (a foreground runtime or a supervisor); saved before set-up, so reconcile knows whom to ask. */
export function claimRuntime(state: ContainerState): void {
  state.runtimePid = process.pid;
  state.runtimeStart = processStartTime(process.pid);
}

export async function runContainer(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`layerfs: ${m}\n`));
  const { store, state } = await createFromImage(opts);
  opts.onCreate?.(state);
  claimRuntime(state);
  const output = opts.logOutput && !opts.tty ? new JsonFileLog(pathsOf(store.root, state.id).output, configOf(state).log) : undefined;
  let outputClosed = false;
  const pass = (init: InitProcess, from: Readable | null, stream: 'stdout' | 'stderr') => {
    void output!.follow(stream, from!);
    // The reader gone (`run IMG yes | head -1`): nothing may outlive us, so the container ends, torn down as any other.
    process[stream].on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' || outputClosed) return;
      outputClosed = true;
      void init.kill('SIGKILL');
    });
    from!.pipe(process[stream], { end: false });
  };
  try {
    await saveState(store.root, state);
    await runAttempt(store, state, {
      stdout: output ? 'pipe' : opts.stdout, stderr: output ? 'pipe' : opts.stderr, forwardSignals: opts.forwardSignals, log,
      onSpawn: output && ((init) => {
        pass(init, init.stdout, 'stdout');
        pass(init, init.stderr, 'stderr');
      }),
      onStart: opts.onStart && ((s) => opts.onStart!(s)),
    }).catch((err: unknown) => {
      // A command that could not be executed is a result (status created, 126 or 127, error), as docker's.
      if (!(err instanceof LayerfsError && err.data.created === true)) throw err;
    });
  } finally {
    output?.close();
    delete state.runtimePid;
    delete state.runtimeStart;
    if (opts.remove) {
      await removeContainerDir(store.root, state.id);
      await store.release(state.id);
    } else await saveQuietly(store.root, state);
  }
  return { id: state.id, name: state.name, exitCode: state.exitCode ?? RUNTIME_FAILED, status: state.status, error: state.error, outputClosed };
}

/** A missing dir means `rm -f` took the container away while it ran: nothing left to record. */
const saveQuietly = (root: string, state: ContainerState) =>
  saveState(root, state).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });

export interface AttemptIO {
  /** The command's stdout and stderr: file descriptors (default: ours) or pipes (InitProcess.stdout/stderr). */
  stdout?: number | 'pipe';
  stderr?: number | 'pipe';
  /** 'pipe': an open, silent stdin instead of ours (see InitStdio). */
  stdin?: 'pipe';
  forwardSignals?: boolean;
  /** Called as soon as init is spawned (before any await: its output pipes are read from the first byte). */
  onSpawn?: (init: InitProcess) => void;
  /** Called once the command runs and the record says so. */
  onStart?: (state: ContainerState, init: InitProcess) => void;
  log: (msg: string) => void;
}

/**
 * What a set-up container holds until `tearDown`: each thing `setUp` makes
 * (a mount, a network attachment, a cgroup…) goes here, and what is also
 * needed after a crash goes in the record (`state`) as well.
 */
export interface Attached {
  mount?: RootfsMount;
  net?: Attachment;
  cgroup?: ContainerCgroup;
}

/**
 * Before init starts: the init layer, the rootfs mount, the tree's mount
 * points and the user. Fills `attached` as it goes, so `tearDown` can undo a
 * half-done set-up.
 */
export async function setUp(root: string, state: ContainerState, attached: Attached, log: (msg: string) => void): Promise<InitSpec> {
  const c = configOf(state);
  const paths = pathsOf(root, state.id);
  const isolation = state.isolation ?? DEFAULT_ISOLATION;
  const binds = c.volumes.map(parseVolume);
  const tmpfs = c.tmpfs.map(parseTmpfs);
  // Rewritten at each start: a lower layer must not change under a mount, and none is mounted now.
  await rm(paths.init, { recursive: true, force: true });
  await rm(paths.pid, { force: true });
  // The network belongs to this process (the foreground runtime or the supervisor): its lease and port proxies.
  attached.net = await attachNetwork({
    root, id: state.id, name: state.name, hostname: c.hostname, mode: c.network, publish: publishedPorts(c), addHosts: c.addHosts, dns: c.dns, log,
  });
  state.network = attached.net.state;
  const etcBinds = await makeInitLayer(paths, state.layers, attached.net.etcFiles);
  const mounter = mounters[state.mounter];
  attached.mount = await mounter.mount({ lowerdirs: [paths.init, ...state.layers], upperdir: paths.upper, workdir: paths.work, merged: paths.merged, log: paths.log });
  state.fusePid = attached.mount.pid;

  const user = resolveUser(c.user, await readImageFile(paths.merged, '/etc/passwd'), await readImageFile(paths.merged, '/etc/group'));
  await ensureDir(paths.merged, c.cwd);
  await prepareVolumes(paths.merged, binds);
  for (const t of tmpfs) await ensureDir(paths.merged, t.target);
  const confinement = await confinementArgs(isolation, `${paths.dir}/seccomp`);
  const deviceRules = isolation.privileged ? null : [...DEFAULT_DEVICE_RULES, ...(isolation.devices ?? []).map(deviceCgroupRule)];
  attached.cgroup = await createCgroup(state.id, isolation.limits, deviceRules);
  return {
    rootfs: paths.merged, args: [...c.entrypoint, ...c.cmd], env: withHome(c.env, user.home), cwd: c.cwd, hostname: attached.net.hostname ?? c.hostname,
    uid: user.uid, gid: user.gid, groups: user.groups, hostNetwork: attached.net.hostNetwork, netns: attached.net.netns,
    binds: [...etcBinds, ...binds], tty: c.tty, pidFile: paths.pid, tmpfs, reaper: c.init, confinement, cgroups: attached.cgroup.dirs,
  };
}

/**
 * After init exits, or after a crash (reconcile.ts, rm; with no `attached`):
 * the network, the cgroup and the rootfs come down, and a FUSE daemon still
 * serving it is ended. Every step is idempotent.
 */
export async function tearDown(root: string, state: ContainerState, attached: Attached = {}, log: (msg: string) => void = () => {}): Promise<void> {
  const paths = pathsOf(root, state.id);
  try {
    if (attached.net) await attached.net.detach().catch((err: Error) => log(`network teardown: ${err.message}`));
    else await releaseNetwork(root, state.id);
    if (attached.cgroup) await attached.cgroup.remove().catch((err: Error) => log(`removing the container's cgroup: ${err.message}`));
    else await removeCgroup(state.id);
    await attached.mount?.unmount();
  } finally {
    await forceUnmount(paths.merged);
    if (!attached.mount && servesMount(state.fusePid, paths)) process.kill(state.fusePid!, 'SIGKILL');
  }
}

/** Whether `pid` is still this container's own FUSE daemon (not a reused pid, nor the mount server, which serves other mounts too). */
function servesMount(pid: number | undefined, paths: ContainerPaths): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(paths.merged);
  } catch {
    return false;
  }
}

/** The run configuration; records from before it was stored get one from their args. */
export function configOf(state: ContainerState): RunConfig {
  return state.config ?? {
    entrypoint: [], cmd: state.args, env: [], cwd: '/', user: '', hostname: shortId(state.id), network: 'none', publish: [], addHosts: [], dns: [], volumes: [], tmpfs: [],
    init: false, tty: false, interactive: false, stopSignal: 'SIGTERM', restart: { name: 'no', maximumRetryCount: 0 }, log: { maxFile: 1 }, autoRemove: false,
  };
}

async function readPid(file: string): Promise<number | undefined> {
  for (let i = 0; i < 100; i++) {
    const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (pid > 0) return pid;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

/**
 * One run of the container: set up, start init, wait for it (or for the
 * rootfs daemon to die), tear down. The record is saved when the command
 * runs and when it has ended; errors of the set-up are recorded and thrown.
 */
export async function runAttempt(store: Store, state: ContainerState, io: AttemptIO): Promise<void> {
  const c = configOf(state);
  const paths = pathsOf(store.root, state.id);
  const attached: Attached = {};
  let rootfsDied = false;
  let init: InitProcess | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const stopForwarding: Array<() => void> = [];
  // A signal during set-up stops the start (and cleans up); afterwards it goes to the container.
  for (const sig of io.forwardSignals ? FORWARDED : []) {
    const forward = () => (init ? void init.kill(sig) : (interrupted ??= sig));
    process.on(sig, forward);
    stopForwarding.push(() => process.off(sig, forward));
  }
  delete state.error;
  delete state.exitCode;
  delete state.oomKilled;
  try {
    const spec = await setUp(store.root, state, attached, io.log);
    const mount = attached.mount!;
    void mount.closed.then((end) => (rootfsDied = end === 'died'));

    if (interrupted) throw new LayerfsError('INTERRUPTED', `${interrupted} before the container started`);
    init = startInit(spec, { interactive: c.interactive || c.tty, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr });
    io.onSpawn?.(init);
    const failure = await init.started;
    if (failure !== undefined) {
      await init.exited;
      // As docker: the command never ran, so the container stays created, with the exit status of a failed exec.
      throw new LayerfsError('START_FAILED', failure.message, { exitCode: failure.code, created: true });
    }
    state.status = 'running';
    state.initPid = init.pid;
    state.startedAt = new Date().toISOString();
    delete state.finished;
    state.pid = await readPid(paths.pid);
    await saveState(store.root, state);
    io.onStart?.(state, init);

    const first = await Promise.race([init.exited.then((code) => ({ kind: 'exited' as const, code })), mount.closed.then(() => ({ kind: 'rootfs' as const }))]);
    if (first.kind === 'rootfs' && rootfsDied) {
      await init.kill('SIGKILL');
      await init.exited.catch(() => undefined);
    }
    const code = first.kind === 'exited' ? first.code : await init.exited;
    // A command that failed because the daemon died may exit before we hear of the daemon's exit; the mount already tells.
    if (rootfsDied || (await isDisconnected(paths.merged))) {
      state.status = 'failed';
      state.error = `the rootfs FUSE daemon (pid ${mount.pid}) died while the container ran`;
      state.exitCode = RUNTIME_FAILED;
      io.log(state.error);
    } else {
      state.status = 'exited';
      state.exitCode = code;
    }
    if (await attached.cgroup?.oomKilled()) state.oomKilled = true;
  } catch (err) {
    const data = err instanceof LayerfsError ? err.data : {};
    // As docker: a start that failed before its command ran leaves a new container Created (a port in use, a
    // command not found), one that ran before Exited; one that failed while running is failed.
    const neverRan = data.created === true || init === undefined;
    state.status = !neverRan ? 'failed' : state.startedAt === undefined ? 'created' : 'exited';
    state.error = (err as Error).message;
    state.exitCode = typeof data.exitCode === 'number' ? data.exitCode : RUNTIME_FAILED;
    throw err;
  } finally {
    for (const stop of stopForwarding) stop();
    delete state.initPid;
    delete state.fusePid;
    delete state.pid;
    state.finished = new Date().toISOString();
    try {
      await tearDown(store.root, state, attached, io.log);
    } finally {
      await saveQuietly(store.root, state);
    }
  }
}
