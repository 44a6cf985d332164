/** `layerfs export CONTAINER [-o FILE]`: the container's whole tree as a tar. */
import { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Store } from '../store/store.js';
import { UsageError } from '../errors.js';
import { findContainer } from '../runtime/containers.js';
import { exportContainer } from '../runtime/export.js';

export function register(program: Command): void {
  program
    .command('export')
    .description("write a container's filesystem as a tar (to stdout unless -o)")
    .argument('<container>', 'name, id or id prefix')
    .option('-o, --output <file>', 'write to a file')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (ref: string, flags: { output?: string; root?: string }) => {
      if (!flags.output && process.stdout.isTTY) throw new UsageError('refusing to write a tar to a terminal: use -o FILE or redirect');
      const store = await Store.open(flags.root);
      const c = await findContainer(store.root, ref);
      const out = flags.output ? createWriteStream(flags.output) : process.stdout;
      try {
        await exportContainer(store.root, c, out);
      } catch (err) {
        if (flags.output) await rm(flags.output, { force: true });
        throw err;
      }
    });
}
