/** What stop, start, restart, kill and wait share: each named container in turn, its name printed or its error, exit 1 if any failed. */
import { Store } from '../store/store.js';
import { findContainer, type ContainerState } from '../runtime/containers.js';

export async function eachContainer(root: string | undefined, refs: string[], act: (root: string, state: ContainerState, ref: string) => Promise<string | null | void>): Promise<void> {
  const store = await Store.open(root);
  let failed = false;
  for (const ref of refs) {
    try {
      const line = await act(store.root, await findContainer(store.root, ref), ref);
      if (line !== null) process.stdout.write(`${line ?? ref}\n`);
    } catch (err) {
      if ((err as { code?: unknown }).code === undefined) throw err;
      process.stderr.write(`layerfs: ${(err as Error).message}\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}
