/**
 * Before a command touches the store: a user who is not root and has not
 * named a store root of their own gets one line saying so, instead of an
 * EACCES from a mkdir deep in /var/lib/layerfs.
 */
import type { Command } from 'commander';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LayerfsError } from '../errors.js';
import { DEFAULT_ROOT } from '../store/default-root.js';

/** Commands that never open the store. */
const STORELESS = new Set(['mount', 'mountd', 'umount', 'login', 'logout', 'help']);

export async function checkStoreAccess(cmd: Command): Promise<void> {
  if (process.getuid?.() === 0 || STORELESS.has(cmd.name())) return;
  const root = resolve((cmd.opts() as { root?: string }).root ?? process.env.LAYERFS_ROOT ?? DEFAULT_ROOT);
  // The root, or the nearest directory above it that exists, must be ours to write.
  for (let dir = root; ; dir = dirname(dir)) {
    const ok = await access(dir, constants.W_OK | constants.X_OK).then(() => true, (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : false));
    if (ok === true) return;
    if (ok === false || dir === '/') throw new LayerfsError('NEEDS_ROOT', `layerfs needs root (or --root DIR you own): ${dir} is not writable`, { root });
  }
}
