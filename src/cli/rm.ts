/** `layerfs rm [-f] CONTAINER...`: removes containers, their dirs and anything still mounted. */
import { Command } from 'commander';
import { Store } from '../store/store.js';
import { findContainer } from '../runtime/containers.js';
import { removeContainer } from '../runtime/remove.js';
import { errorLine } from './user-error.js';

export function register(program: Command): void {
  program
    .command('rm')
    .description('remove containers')
    .argument('<container...>', 'name, id or id prefix')
    .option('-f, --force', 'kill a running container first')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (refs: string[], flags: { force?: boolean; root?: string }) => {
      const store = await Store.open(flags.root);
      let failed = false;
      for (const ref of refs) {
        try {
          await removeContainer(store.root, await findContainer(store.root, ref), flags.force);
          process.stdout.write(`${ref}\n`);
        } catch (err) {
          process.stderr.write(`layerfs: ${errorLine(err) ?? (err as Error).message}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}
