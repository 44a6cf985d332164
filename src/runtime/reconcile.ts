/**
 * Records against reality: a container whose runtime (a foreground `run` or
 * its supervisor) is gone, killed or lost with a reboot, is recorded as
 * exited, and what its runtime would have taken down is taken down now
 * (run.ts's `tearDown`). ps, rm, start, stop, logs, inspect... reconcile the
 * records they read.
 */
import { isActive, loadState, runtimeAlive, saveState, type ContainerState } from './containers.js';
import { tearDown } from './run.js';

/** A container killed by SIGKILL, as its runtime's death kills it (PR_SET_PDEATHSIG). */
const KILLED = 128 + 9;

/** A record some runtime answers for: running, restarting, or being set up (created, with a runtime). */
const owned = (s: ContainerState) => isActive(s) || (s.status === 'created' && s.runtimePid !== undefined);

export async function reconcile(root: string, state: ContainerState): Promise<ContainerState> {
  if (!owned(state) || runtimeAlive(state)) return state;
  // The runtime may have recorded the end between our read and our check.
  const now = await loadState(root, state.id).catch(() => null);
  // Gone: an auto-removed container (--rm) has ended.
  if (now === null) return { ...state, status: 'exited' };
  if (!owned(now) || runtimeAlive(now)) return now;
  await tearDown(root, now);
  const pid = now.runtimePid;
  now.status = 'exited';
  now.exitCode = KILLED;
  now.error = `its runtime (pid ${pid}) is gone`;
  now.finished = new Date().toISOString();
  for (const k of ['runtimePid', 'runtimeStart', 'initPid', 'fusePid', 'pid'] as const) delete now[k];
  await saveState(root, now).catch(() => {});
  return now;
}
