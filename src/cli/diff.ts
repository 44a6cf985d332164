/** `layerfs diff CONTAINER`: its changes as A/C/D lines, like docker diff. */
import { Command } from 'commander';
import { Store } from '../store/store.js';
import { findContainer, pathsOf } from '../runtime/containers.js';
import { containerChanges } from '../runtime/changes.js';

export function register(program: Command): void {
  program
    .command('diff')
    .description("list a container's changes: A added, C changed, D deleted")
    .argument('<container>', 'name, id or id prefix')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (ref: string, flags: { root?: string }) => {
      const store = await Store.open(flags.root);
      const c = await findContainer(store.root, ref);
      const changes = containerChanges(pathsOf(store.root, c.id).upper, c.layers);
      process.stdout.write(changes.map((ch) => `${ch.kind} ${ch.path}\n`).join(''));
    });
}
