/** What the store's commands share: the `--root` option and opening the store it names. */
import type { Command } from 'commander';
import type { Store } from '../store/store.js';
import { UsageError } from '../errors.js';

export interface RootOptions {
  root?: string;
}

export function withRoot(cmd: Command): Command {
  return cmd.option('--root <dir>', 'store directory (default: $LAYERFS_ROOT or /var/lib/layerfs)');
}

// Loaded when a command opens the store, not when it registers: `mount` (started per container by podman) never does.
export async function openStore(opts: RootOptions): Promise<Store> {
  const { Store } = await import('../store/store.js');
  return Store.open(opts.root);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function checkFormat(format: string | undefined, allowed: string[]): string {
  const f = format ?? allowed[0]!;
  if (!allowed.includes(f)) throw new UsageError(`unsupported --format '${f}': use one of ${allowed.join(', ')}`);
  return f;
}
