/**
 * `layerfs inspect [--type container|image] NAME...`: docker-like JSON. A
 * name is looked up as a container first, then as an image (docker's order).
 */
import { Command, Option } from 'commander';
import { inspectImage } from '../store/describe.js';
import { findContainer, NoSuchContainerError } from '../runtime/containers.js';
import { describeContainer } from '../runtime/describe-container.js';
import { reconcile } from '../runtime/reconcile.js';
import { LayerfsError, UnknownImageError } from '../errors.js';
import { formatObjects } from './output-format.js';
import { errorLine } from './user-error.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';

export function register(program: Command): void {
  withRoot(
    program
      .command('inspect')
      .description('show containers or images as JSON (layer dirs in GraphDriver.Data, top first)')
      .argument('<name...>', 'container name/id or image reference/id')
      .addOption(new Option('--type <type>', 'look only for this kind of object').choices(['container', 'image']))
      .option('-f, --format <format>', "json (one line) or a Go TEMPLATE such as '{{.Id}}' or '{{json .Config}}' (default: indented JSON)"),
  ).action(async (refs: string[], opts: RootOptions & { format?: string; type?: 'container' | 'image' }) => {
    const store = await openStore(opts);
    const out = [];
    const failed: unknown[] = [];
    for (const ref of refs) {
      try {
        out.push(await inspectOne(store.root, ref, opts.type, async () => {
          const img = await store.resolve(ref);
          return inspectImage(img, await store.config(img), store.layerDirs(img));
        }));
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

async function inspectOne(root: string, ref: string, type: 'container' | 'image' | undefined, image: () => Promise<unknown>): Promise<unknown> {
  if (type !== 'image') {
    try {
      return describeContainer(root, await reconcile(root, await findContainer(root, ref)));
    } catch (err) {
      if (!(err instanceof NoSuchContainerError) || type === 'container') throw err;
    }
  }
  try {
    return await image();
  } catch (err) {
    // docker's words when it looked for every kind of object
    if (err instanceof UnknownImageError && type === undefined) throw new LayerfsError('NO_SUCH_OBJECT', `no such object: ${ref}`, { ref });
    throw err;
  }
}
