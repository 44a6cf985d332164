/**
 * `rm`: a container's record, dirs and anything still attached to it. A
 * running one needs `force`: its PID 1 is killed (which ends its namespaces)
 * and its runtime records the end and tears the rootfs down; one whose
 * runtime was killed is reconciled (reconcile.ts) before the directory goes.
 */
import { UsageError } from '../errors.js';
import { isActive, pathsOf, removeContainerDir, type ContainerState } from './containers.js';
import { Store } from '../store/store.js';
import { forceUnmount } from './rootfs.js';
import { killContainer, waitContainer } from './control.js';
import { reconcile } from './reconcile.js';
import { tearDown } from './run.js';

export async function removeContainer(root: string, state: ContainerState, force = false): Promise<void> {
  const paths = pathsOf(root, state.id);
  state = await reconcile(root, state);
  if (isActive(state)) {
    if (!force) throw new UsageError(`cannot remove container "/${state.name}": container is running: stop the container before removing or force remove`);
    await killContainer(root, state, 'SIGKILL');
    state = await waitContainer(root, state, 10_000);
  }
  await tearDown(root, state);
  await forceUnmount(`${paths.dir}/export`);
  await removeContainerDir(root, state.id);
  await (await Store.open(root)).release(state.id);
}
