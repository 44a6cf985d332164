/** `layerfs wait CONTAINER...`: blocks until each container stops, prints its exit code. */
import { Command } from 'commander';
import { waitContainer } from '../runtime/control.js';
import { eachContainer } from './each-container.js';
import { withRoot } from './store-options.js';

export function register(program: Command): void {
  withRoot(program
    .command('wait')
    .description('wait until containers stop, then print their exit codes')
    .argument('<container...>', 'name, id or id prefix'))
    .action(async (refs: string[], flags: { root?: string }) => {
      await eachContainer(flags.root, refs, async (root, state) => String((await waitContainer(root, state)).exitCode ?? 0));
    });
}
