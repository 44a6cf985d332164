/**
 * `rm`: a container's record, dirs and anything still attached to it. A
 * running one needs `force` (its PID 1 is killed, which ends its namespaces);
 * one whose runtime was killed may still have its rootfs mounted and its FUSE
 * daemon alive: both are taken down before the directory goes.
 */
import { UsageError } from '../errors.js';
import { isLive, loadState, pathsOf, processAlive, removeContainerDir, type ContainerState } from './containers.js';
import { shortId } from '../oci/digest.js';
import { Store } from '../store/store.js';
import { forceUnmount } from './rootfs.js';
import { removeCgroup } from './cgroups.js';
import { releaseNetwork } from './network/attach.js';

/** Waits until the runtime running the container has recorded its end (or is gone), so its clean-up never races ours. */
async function runtimeDone(root: string, state: ContainerState): Promise<void> {
  for (let i = 0; i < 200 && processAlive(state.runtimePid); i++) {
    const now = await loadState(root, state.id).catch(() => null);
    if (now === null || now.status !== 'running') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function removeContainer(root: string, state: ContainerState, force = false): Promise<void> {
  const paths = pathsOf(root, state.id);
  if (isLive(state)) {
    if (!force) throw new UsageError(`container ${state.name} (${shortId(state.id)}) is running: use rm -f to kill and remove it`);
    process.kill(state.initPid!, 'SIGKILL'); // its PID 1 dies with it (PR_SET_PDEATHSIG)
    await runtimeDone(root, state);
  }
  await forceUnmount(paths.merged);
  await forceUnmount(`${paths.dir}/export`);
  if (processAlive(state.fusePid)) process.kill(state.fusePid!, 'SIGKILL');
  // Normally gone already: the runtime removes it when the container stops, unless the runtime was killed.
  await removeCgroup(state.id);
  await releaseNetwork(root, state.id);
  await removeContainerDir(root, state.id);
  await (await Store.open(root)).release(state.id);
}
