/** `layerfs inspect IMAGE...`: docker-like JSON, with the layer dirs in GraphDriver.Data.LowerDir. */
import { Command } from 'commander';
import { inspectImage } from '../store/describe.js';
import { formatObjects } from './output-format.js';
import { errorLine } from './user-error.js';
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
    const failed: unknown[] = [];
    for (const ref of refs) {
      try {
        const img = await store.resolve(ref);
        out.push(inspectImage(img, await store.config(img), store.layerDirs(img)));
      } catch (err) {
        failed.push(err); // as docker: what was found is printed, then what was not
      }
    }
    const text = formatObjects(opts.format, out);
    if (out.length > 0 || failed.length === 0) process.stdout.write(text);
    for (const err of failed.slice(0, -1)) process.stderr.write(`layerfs: ${errorLine(err) ?? String(err)}\n`);
    if (failed.length > 0) throw failed[failed.length - 1];
  });
}
