/** `layerfs commit CONTAINER [REF]`: a new image from the container's changes. */
import { Command } from 'commander';
import { Store } from '../store/store.js';
import { findContainer } from '../runtime/containers.js';
import { commitContainer } from '../runtime/commit.js';
import { applyChanges } from '../build/config-changes.js';

const collect = (value: string, prev: string[]) => [...prev, value];

export function register(program: Command): void {
  program
    .command('commit')
    .description("create an image from a container's changes (one new layer)")
    .argument('<container>', 'name, id or id prefix')
    .argument('[ref]', 'name[:tag] for the new image')
    .option('-m, --message <text>', 'comment in the history entry')
    .option('-a, --author <name>', 'author')
    .option('-c, --change <instruction>', "apply a Dockerfile instruction to the image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR); may repeat", collect, [])
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (ref: string, tag: string | undefined, flags: { message?: string; author?: string; root?: string; change: string[] }) => {
      const store = await Store.open(flags.root);
      const changeConfig = flags.change.length ? (c: object) => applyChanges(c, flags.change) : undefined;
      changeConfig?.({}); // a bad --change fails before anything is written
      const img = await commitContainer(store, await findContainer(store.root, ref), tag, { message: flags.message, author: flags.author, changeConfig });
      process.stdout.write(`${img.id}\n`);
    });
}
