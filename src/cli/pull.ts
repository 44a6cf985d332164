/** `layerfs pull REF`: a thin wrapper over the registry's pull into the layer store. */
import { Command } from 'commander';
import { parsePlatform } from '../oci/manifest.js';
import { LayerProgress } from './transfer-progress.js';
import { pull } from '../registry/pull.js';
import { StoreTarget } from '../registry/store-adapter.js';
import { Store } from '../store/store.js';

interface PullFlags {
  root?: string;
  platform?: string;
  insecure?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('pull')
    .description('download an image from a registry into the store')
    .argument('<ref>', '[REGISTRY/]NAME[:TAG|@DIGEST], e.g. localhost:5000/hello-world:latest')
    .option('--platform <os/arch>', 'for multi-platform images (default linux/amd64)')
    .option('--insecure', 'allow plain http to this registry (also: insecureRegistries in the config)')
    .option('-q, --quiet', 'print only the image reference')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (ref: string, flags: PullFlags) => {
      const store = await Store.open(flags.root);
      const res = await pull(ref, {
        target: new StoreTarget(store),
        insecure: flags.insecure,
        ...(flags.platform ? { platform: parsePlatform(flags.platform) } : {}),
        ...(flags.quiet ? {} : { onProgress: new LayerProgress(process.stdout).listener() }),
        warn: (m) => process.stderr.write(`${m}\n`),
      });
      if (flags.quiet) process.stdout.write(`${res.ref}\n`);
    });
}
