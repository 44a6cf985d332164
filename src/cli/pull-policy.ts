/** `run --pull missing|always|never`: whether the image comes from the registry first (docker's default: when missing). */
import { UnknownImageError, UsageError } from '../errors.js';
import { pull } from '../registry/pull.js';
import { StoreTarget } from '../registry/store-adapter.js';
import { ensureBuiltin } from '../store/hello-world.js';
import { Store } from '../store/store.js';
import { LayerProgress } from './transfer-progress.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export async function ensureImage(root: string | undefined, ref: string, policy: PullPolicy): Promise<void> {
  const store = await Store.open(root);
  if (policy !== 'always') {
    try {
      await ensureBuiltin(store, ref);
      return;
    } catch (err) {
      if (!(err instanceof UnknownImageError) || policy === 'never') throw err;
      if (/^(sha256:)?[0-9a-f]{12,64}$/.test(ref)) throw err; // an ID names a local image only
      process.stderr.write(`Unable to find image '${ref}' locally\n`);
    }
  }
  await pull(ref, {
    target: new StoreTarget(store),
    onProgress: new LayerProgress(process.stderr).listener(),
    warn: (m) => process.stderr.write(`${m}\n`),
  });
}

export function parsePullPolicy(value: string): PullPolicy {
  if (value === 'missing' || value === 'always' || value === 'never') return value;
  throw new UsageError(`invalid --pull '${value}': use missing, always or never`);
}
