/** `layerfs push IMAGE [REF]`: a thin wrapper over the registry's push from the layer store. */
import { Command, Option } from 'commander';
import type { Compression } from '../oci/media-type.js';
import { LayerProgress } from './transfer-progress.js';
import { push } from '../registry/push.js';
import { StoreTarget } from '../registry/store-adapter.js';
import { ensureBuiltin } from '../store/hello-world.js';
import { Store } from '../store/store.js';

interface PushFlags {
  root?: string;
  insecure?: boolean;
  quiet?: boolean;
  compression: Compression;
}

export function register(program: Command): void {
  program
    .command('push')
    .description('upload an image from the store to a registry')
    .argument('<image>', 'image name[:tag] or ID in the store (hello-world is built in)')
    .argument('[ref]', 'where to push: REGISTRY/NAME[:TAG] (default: IMAGE itself)')
    .option('--insecure', 'allow plain http to this registry (also: insecureRegistries in the config)')
    .option('-q, --quiet', 'print only the pushed digest')
    .addOption(new Option('--compression <kind>', 'how uncompressed layers go up (the compressed blob is kept for the next push)').choices(['gzip', 'zstd', 'none']).default('gzip'))
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (image: string, ref: string | undefined, flags: PushFlags) => {
      const store = await Store.open(flags.root);
      await ensureBuiltin(store, image);
      const res = await push(image, ref ?? image, {
        source: new StoreTarget(store),
        insecure: flags.insecure,
        compression: flags.compression,
        ...(flags.quiet ? {} : { onProgress: new LayerProgress(process.stdout).listener() }),
        warn: (m) => process.stderr.write(`${m}\n`),
      });
      if (flags.quiet) process.stdout.write(`${res.digest}\n`);
    });
}
