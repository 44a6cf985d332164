/** `layerfs inspect IMAGE...`: docker-like JSON, with the layer dirs in GraphDriver.Data.LowerDir. */
import { Command } from 'commander';
import { inspectImage } from '../store/describe.js';
import { formatObjects } from './output-format.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';

export function register(program: Command): void {
  withRoot(
    program
      .command('inspect')
      .description('show images as JSON (layer dirs in GraphDriver.Data.LowerDir, top first)')
      .argument('<image...>')
      .option('-f, --format <format>', "json (one line) or a Go TEMPLATE such as '{{.Id}}' or '{{json .Config}}' (default: indented JSON)"),
  ).action(async (refs: string[], opts: RootOptions & { format?: string }) => {
    const store = await openStore(opts);
    const out = [];
    for (const ref of refs) {
      const img = await store.resolve(ref);
      out.push(inspectImage(img, await store.config(img), store.layerDirs(img)));
    }
    process.stdout.write(formatObjects(opts.format, out));
  });
}
