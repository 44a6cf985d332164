/** `layerfs rmi IMAGE...`: untag or remove images; layers no image needs are collected. */
import { Command } from 'commander';
import { holdContainerImages } from '../runtime/container-holds.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';

export function register(program: Command): void {
  withRoot(
    program
      .command('rmi')
      .description('remove images (a tag of a multiply tagged image is only untagged; an ID with several tags needs -f)')
      .argument('<image...>')
      .option('-f, --force', 'remove even when a container uses the image (its layers stay until the container is gone) or its ID has several tags'),
  ).action(
    async (refs: string[], opts: RootOptions & { force?: boolean }) => {
      const store = await openStore(opts);
      await holdContainerImages(store);
      for (const ref of refs) {
        const r = await store.rmi(ref, { force: opts.force });
        for (const t of r.untagged) process.stdout.write(`Untagged: ${t}\n`);
        for (const d of r.deleted) process.stdout.write(`Deleted: ${d}\n`);
      }
    },
  );
}
