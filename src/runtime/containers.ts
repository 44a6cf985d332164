/**
 * Container records under `<store root>/containers/<id>/`:
 *
 *   state.json   the record below, rewritten atomically at each step
 *   init/        the init layer (mount points), a lower layer of its own
 *   upper/ work/ the container's writable layer and overlay scratch dir
 *   merged/      the root filesystem while it runs
 *   pid          the container's PID 1 as the host sees it
 *   rootfs.log   the FUSE daemon's log
 *   container-json.log[.N]  the command's output (detached runs), docker's json-file lines
 *   stop-requested  left by stop/kill/rm -f: the supervisor must not restart it
 *   waiter-PID   a `wait` in progress: an auto-removed container's record stays until it has read the end
 *
 * States: created → running → exited | failed, and with a restart policy
 * running → restarting → running. A record left `running` or `restarting` by
 * a runtime that was killed is turned into `exited` by reconcile.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { DamagedRecordError, LayerfsError, UsageError } from '../errors.js';
import { readRecord, shape, writeRecord } from '../store/record.js';
import { shortId } from '../oci/digest.js';
import type { MounterName } from './rootfs.js';
import type { IsolationOptions } from './isolation.js';
import type { NetworkState } from './network/state.js';

export type ContainerStatus = 'created' | 'running' | 'restarting' | 'exited' | 'failed';

/** `--restart`: what the supervisor does when the command exits. */
export interface RestartPolicy {
  name: 'no' | 'always' | 'on-failure';
  /** on-failure's limit (0: no limit). */
  maximumRetryCount: number;
}

/** `--log-opt`: the json-file log's cap (no max-size: unbounded). */
export interface LogConfig {
  maxSize?: number;
  maxFile: number;
}

/**
 * Everything `start` and `restart` need to run the container again, resolved
 * once at `run` from the image config and the flags.
 */
export interface RunConfig {
  /** The image's Entrypoint (or --entrypoint) and Cmd (or CMD...), as run. */
  entrypoint: string[];
  cmd: string[];
  /** `K=V`, without HOME (it comes from the user, resolved at each start). */
  env: string[];
  cwd: string;
  /** Unresolved: name|uid[:group|gid]. */
  user: string;
  hostname: string;
  /** bridge, none, host or container:NAME, with `-p`, `--add-host` and `--dns` (network/attach.ts). */
  network: string;
  /** The `-p` values as given. */
  publish: string[];
  /** The image's EXPOSE and `--expose` (`80/tcp`), inspect's Config.ExposedPorts (absent in records from before them). */
  exposedPorts?: string[];
  /** `-P`: each exposed port no `-p` names is published too, on a port the kernel picks (publishedPorts). */
  publishAll?: boolean;
  addHosts: string[];
  dns: string[];
  /** `HOSTDIR:CTRDIR[:ro]` */
  volumes: string[];
  /** `PATH[:OPTS]` */
  tmpfs: string[];
  init: boolean;
  tty: boolean;
  interactive: boolean;
  stopSignal: string;
  /** The image's labels with `--label`s over them (absent in records from before labels). */
  labels?: Record<string, string>;
  restart: RestartPolicy;
  log: LogConfig;
  autoRemove: boolean;
}
export interface ContainerState {
  id: string;
  name: string;
  /** The image as the user named it, and its ID. */
  image: string;
  imageId: string;
  /** Lower layers, top first (without the init layer). */
  layers: string[];
  args: string[];
  created: string;
  status: ContainerStatus;
  exitCode?: number;
  finished?: string;
  /** Why it failed, for `failed`. */
  error?: string;
  mounter: MounterName;
  /** The runtime supervising it, and layerfs-init's pid (outside the container), while running. */
  runtimePid?: number;
  /** The runtime's start time (/proc/PID/stat field 22): a reused pid is not our runtime. */
  runtimeStart?: number;
  initPid?: number;
  /** The process serving the rootfs: the mount server, which serves other mounts too (a daemon of its own only for records of older versions). */
  fusePid?: number;
  /** Capabilities, seccomp, limits... as given to `run` (a later start repeats them). */
  isolation?: IsolationOptions;
  /** The kernel's OOM killer killed a process of the container (docker's State.OOMKilled). */
  oomKilled?: boolean;
  /** Its network as set up at the last start (address, ports; see network/state.ts). */
  network?: NetworkState;
  /** The container's PID 1 as the host sees it, while running. */
  pid?: number;
  /** The resolved run configuration (records made before it existed lack it). */
  config?: RunConfig;
  /** Started under a supervisor (`run -d`, `start`): its output is in the json-file log. */
  detached?: boolean;
  startedAt?: string;
  restartCount?: number;
}

export class NoSuchContainerError extends LayerfsError {
  constructor(ref: string) {
    super('NO_SUCH_CONTAINER', `no such container: ${ref}`, { ref });
  }
}

export const containersDir = (root: string) => join(root, 'containers');
export const containerDir = (root: string, id: string) => join(containersDir(root), id);

export interface ContainerPaths {
  dir: string; init: string; upper: string; work: string; merged: string; pid: string; log: string;
  /** The command's output, docker's json-file log. */
  output: string;
  stopRequested: string;
}

export function pathsOf(root: string, id: string): ContainerPaths {
  const dir = containerDir(root, id);
  const p = (name: string) => join(dir, name);
  return {
    dir, init: p('init'), upper: p('upper'), work: p('work'), merged: p('merged'), pid: p('pid'), log: p('rootfs.log'),
    output: p('container-json.log'), stopRequested: p('stop-requested'),
  };
}

export const newId = () => randomBytes(32).toString('hex');

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Creates the container's directories and first record; the name must be free. */
export async function createContainer(
  root: string,
  init: Omit<ContainerState, 'name' | 'created' | 'status'> & { name?: string },
): Promise<ContainerState> {
  const id = init.id;
  if (!/^[0-9a-f]{64}$/.test(id)) throw new UsageError(`invalid container id '${id}'`);
  const name = init.name ?? `layerfs_${shortId(id)}`;
  if (!NAME.test(name)) throw new UsageError(`invalid container name '${name}': use letters, digits, '_', '.' and '-'`);
  const holder = (await listContainers(root)).find((c) => c.name === name);
  if (holder) {
    throw new LayerfsError('NAME_IN_USE', `Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`, { name, id: holder.id });
  }
  const paths = pathsOf(root, id);
  // The upper dir is the container's /: it must be searchable by any user the command runs as.
  for (const d of [paths.init, paths.upper, paths.merged]) await mkdir(d, { recursive: true, mode: 0o755 });
  await mkdir(paths.work, { mode: 0o700 });
  const state: ContainerState = { ...init, name, created: new Date().toISOString(), status: 'created' };
  await saveState(root, state);
  return state;
}

export async function saveState(root: string, state: ContainerState): Promise<void> {
  await writeRecord(join(containerDir(root, state.id), 'state.json'), state);
}

const STATUSES = new Set(['created', 'running', 'restarting', 'exited', 'failed']);
const stateShape = (id: string) =>
  shape({ id: 'string', name: 'string', image: 'string', imageId: 'string', args: 'string[]', created: 'string', status: 'string', layers: 'string[]' }, (o) => {
    if (o.id !== id) return `its id is not the one its directory says`;
    if (!STATUSES.has(o.status as string)) return `unknown status ${JSON.stringify(o.status)}`;
    return null;
  });

/** A container's record; a missing or damaged one is a DamagedRecordError naming the file and the reason. */
export async function loadState(root: string, id: string): Promise<ContainerState> {
  const file = join(containerDir(root, id), 'state.json');
  const state = await readRecord<ContainerState>(file, stateShape(id));
  if (state === null) throw new DamagedRecordError(file, 'missing');
  return state;
}

/** A container directory whose record cannot be read: `ps -a` lists it as damaged, `system check` reports it. */
export interface DamagedContainer {
  id: string;
  error: DamagedRecordError;
}

/** Every container, newest first, and the directories whose record is damaged. */
export async function scanContainers(root: string): Promise<{ containers: ContainerState[]; damaged: DamagedContainer[] }> {
  const ids = (await readdir(containersDir(root)).catch(() => [] as string[])).filter((id) => /^[0-9a-f]{64}$/.test(id));
  const containers: ContainerState[] = [];
  const damaged: DamagedContainer[] = [];
  for (const id of ids) {
    try {
      containers.push(await loadState(root, id));
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      damaged.push({ id, error: err });
    }
  }
  containers.sort((a, b) => b.created.localeCompare(a.created));
  return { containers, damaged };
}

/** Every container with a readable record, newest first. */
export async function listContainers(root: string): Promise<ContainerState[]> {
  return (await scanContainers(root)).containers;
}

/** Finds a container by name, full id or unambiguous id prefix. */
export async function findContainer(root: string, ref: string): Promise<ContainerState> {
  const { containers: all, damaged } = await scanContainers(root);
  const exact = all.find((c) => c.name === ref || c.id === ref);
  if (exact) return exact;
  const hits = /^[0-9a-f]+$/.test(ref) ? all.filter((c) => c.id.startsWith(ref)) : [];
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new UsageError(`ambiguous container id prefix: ${ref}`);
  // its record is damaged: say which file and why (`system check --repair` removes it)
  const bad = /^[0-9a-f]+$/.test(ref) ? damaged.find((d) => d.id.startsWith(ref)) : undefined;
  if (bad) throw bad.error;
  throw new NoSuchContainerError(ref);
}

/**
 * Whether a process runs: a zombie does not count (a killed runtime's init
 * is left as one until something reaps it, and kill(pid, 0) still succeeds).
 */
export function processAlive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether the record's init process still runs (a `running` record outlives a killed runtime). */
export function isLive(state: ContainerState): boolean {
  return state.status === 'running' && processAlive(state.initPid);
}

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or undefined. */
export function processStartTime(pid: number | undefined): number | undefined {
  if (pid === undefined || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** Whether the runtime recorded as running the container (foreground or supervisor) still does. */
export function runtimeAlive(state: ContainerState): boolean {
  if (!processAlive(state.runtimePid)) return false;
  return state.runtimeStart === undefined || processStartTime(state.runtimePid) === state.runtimeStart;
}

/** The states with a runtime behind them. */
export const isActive = (state: ContainerState) => state.status === 'running' || state.status === 'restarting';

export async function removeContainerDir(root: string, id: string): Promise<void> {
  await rm(containerDir(root, id), { recursive: true, force: true });
}

/** Marks this process as waiting for the container's end; the returned function unmarks it. */
export async function addWaiter(root: string, id: string): Promise<() => Promise<void>> {
  const file = join(containerDir(root, id), `waiter-${process.pid}`);
  const made = await writeFile(file, '').then(() => true, () => false);
  return async () => {
    if (made) await rm(file, { force: true });
  };
}

/** Before an auto-removed container's record goes: gives live waiters up to `ms` to read its end. */
export async function untilUnwatched(root: string, id: string, ms = 2000): Promise<void> {
  const dir = containerDir(root, id);
  for (const until = Date.now() + ms; Date.now() < until; await sleep(20)) {
    const names = await readdir(dir).catch(() => [] as string[]);
    if (!names.some((n) => n.startsWith('waiter-') && processAlive(Number(n.slice(7))))) return;
  }
}
