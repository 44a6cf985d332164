/** `layerfs import FILE [REF]`: one tarball (rootfs or layer, plain or compressed) becomes a one-layer image. */
import { Command } from 'commander';
import { importTarball } from '../store/load.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';
import { applyChanges } from '../build/config-changes.js';

const collect = (value: string, prev: string[]) => [...prev, value];

export function register(program: Command): void {
  withRoot(
    program
      .command('import')
      .description('create a one-layer image from a tarball')
      .argument('<file>', 'tar, tar.gz or tar.zst')
      .argument('[ref]', 'name[:tag] for the new image')
      .option('-c, --change <instruction>', "apply a Dockerfile instruction to the image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR); may repeat", collect, []),
  ).action(async (file: string, ref: string | undefined, opts: RootOptions & { change: string[] }) => {
    const changeConfig = opts.change.length ? (c: object) => applyChanges(c, opts.change) : undefined;
    if (changeConfig) changeConfig({}); // a bad --change fails before the tarball is read
    const img = await importTarball(await openStore(opts), file, ref, { changeConfig });
    process.stdout.write(`${img.id}\n`);
  });
}
