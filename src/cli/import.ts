/** `layerfs import FILE [REF]`: one tarball (rootfs or layer, plain or compressed) becomes a one-layer image. */
import { Command } from 'commander';
import { importTarball } from '../store/load.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';

export function register(program: Command): void {
  withRoot(
    program
      .command('import')
      .description('create a one-layer image from a tarball')
      .argument('<file>', 'tar, tar.gz or tar.zst')
      .argument('[ref]', 'name[:tag] for the new image'),
  ).action(async (file: string, ref: string | undefined, opts: RootOptions) => {
    const img = await importTarball(await openStore(opts), file, ref);
    process.stdout.write(`${img.id}\n`);
  });
}
