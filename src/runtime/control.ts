/**
 * Commands on a container's life: start, stop, kill, wait, restart. They act
 * on the record (reconciled first) and on the processes it names; the
 * supervisor (supervisor.ts) records what happens. `stop-requested` tells the
 * supervisor that an exit was asked for, so its restart policy stays out.
 */
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { withLock } from '../store/lock.js';
import { shortId } from '../oci/digest.js';
import { addWaiter, isActive, loadState, pathsOf, processAlive, runtimeAlive, type ContainerState } from './containers.js';
import { reconcile } from './reconcile.js';
import { configOf } from './run.js';
import { spawnSupervisor } from './supervisor.js';
import { parseSignal } from './signals.js';

export { parseSignal };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const named = (s: ContainerState) => `container ${s.name} (${shortId(s.id)})`;

/** `start`: runs a created or stopped container again under a new supervisor, on the same upper dir. */
export async function startContainer(root: string, state: ContainerState): Promise<ContainerState> {
  // One start at a time per container: two would each spawn a supervisor, and both fail on the one lease and namespace.
  return withLock(pathsOf(root, state.id).dir, async () => {
    state = await reconcile(root, await loadState(root, state.id));
    if (isActive(state)) return state; // docker: starting a running container is no error
    if (runtimeAlive(state)) await waitContainer(root, state); // a supervisor still finishing its record
    await spawnSupervisor(root, state.id);
    return loadState(root, state.id);
  });
}

/** Sends `signal` to the container's PID 1. With `manual`, its restart policy stops applying. */
export async function killContainer(root: string, state: ContainerState, signal: NodeJS.Signals, manual = true): Promise<void> {
  state = await reconcile(root, state);
  if (!isActive(state)) throw new UsageError(`${named(state)} is not running`);
  if (manual) await writeFile(pathsOf(root, state.id).stopRequested, '');
  if (state.status === 'running' && processAlive(state.pid)) process.kill(state.pid!, signal);
}

/** Waits until the runtime has recorded the container's end (or is gone); the final record. */
export async function waitContainer(root: string, state: ContainerState, timeoutMs = Infinity): Promise<ContainerState> {
  const done = await addWaiter(root, state.id);
  try {
    for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
      state = await reconcile(root, await loadState(root, state.id).catch(() => state));
      if (!isActive(state) && !runtimeAlive(state)) return state;
    }
    return state;
  } finally {
    await done();
  }
}

/** `stop -t SECS`: the image's STOPSIGNAL (or SIGTERM), then SIGKILL after the timeout. */
export async function stopContainer(root: string, state: ContainerState, timeoutSecs = 10): Promise<ContainerState> {
  state = await reconcile(root, state);
  if (isActive(state)) await killContainer(root, state, parseSignal(configOf(state).stopSignal));
  // Between two runs of a restart policy the record says exited while its supervisor lives: it must hear the stop too.
  else if (runtimeAlive(state)) await writeFile(pathsOf(root, state.id).stopRequested, '');
  else return state;
  state = await waitContainer(root, state, timeoutSecs * 1000);
  if (isActive(state) || runtimeAlive(state)) {
    const now = await loadState(root, state.id);
    if (processAlive(now.pid)) process.kill(now.pid!, 'SIGKILL');
    state = await waitContainer(root, now);
  }
  return state;
}

export async function restartContainer(root: string, state: ContainerState, timeoutSecs = 10): Promise<ContainerState> {
  return startContainer(root, await stopContainer(root, state, timeoutSecs));
}
