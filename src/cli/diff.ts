/** `layerfs diff CONTAINER`: its changes as A/C/D lines, like docker diff; `--format` as docker's listings. */
import { Command } from 'commander';
import { Store } from '../store/store.js';
import { findContainer, pathsOf } from '../runtime/containers.js';
import { containerChanges } from '../runtime/changes.js';
import { formatRows, type Listing } from './output-format.js';

export const DIFF: Listing = { table: '{{.Type}} {{.Path}}', headers: { Path: 'PATH', Type: 'CHANGE TYPE' } };

export function register(program: Command): void {
  program
    .command('diff')
    .description("list a container's changes: A added, C changed, D deleted")
    .argument('<container>', 'name, id or id prefix')
    .option('--format <format>', "json (one object a line), 'table TEMPLATE' or a Go TEMPLATE such as '{{.Path}}'")
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (ref: string, flags: { root?: string; format?: string }) => {
      const store = await Store.open(flags.root);
      const c = await findContainer(store.root, ref);
      const changes = containerChanges(pathsOf(store.root, c.id).upper, c.layers);
      const format = flags.format === 'table' ? 'table {{.Type}}\t{{.Path}}' : flags.format;
      process.stdout.write(formatRows(format, changes.map((ch) => ({ Path: ch.path, Type: ch.kind })), DIFF));
    });
}
