/**
 * `rm`: a container's record, dirs and anything still attached to it. A
 * running one needs `force` (its PID 1 is killed, which ends its namespaces);
 * one whose runtime was killed may still have its rootfs mounted and its FUSE
 * daemon alive: both are taken down before the directory goes.
 */
import { UsageError } from '../errors.js';
import { isLive, pathsOf, processAlive, removeContainerDir, shortId, type ContainerState } from './containers.js';
import { forceUnmount } from './rootfs.js';

export async function removeContainer(root: string, state: ContainerState, force = false): Promise<void> {
  const paths = pathsOf(root, state.id);
  if (isLive(state)) {
    if (!force) throw new UsageError(`container ${state.name} (${shortId(state.id)}) is running: use rm -f to kill and remove it`);
    process.kill(state.initPid!, 'SIGKILL'); // its PID 1 dies with it (PR_SET_PDEATHSIG)
  }
  await forceUnmount(paths.merged);
  await forceUnmount(`${paths.dir}/export`);
  if (processAlive(state.fusePid)) process.kill(state.fusePid!, 'SIGKILL');
  await removeContainerDir(root, state.id);
}
