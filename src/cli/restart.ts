/** `layerfs restart [-t SECS] CONTAINER...`: stop, then start under a new supervisor. */
import { Command } from 'commander';
import { restartContainer } from '../runtime/control.js';
import { eachContainer } from './each-container.js';
import { parseSeconds } from './stop.js';
import { withRoot } from './store-options.js';

export function register(program: Command): void {
  withRoot(program
    .command('restart')
    .description('stop containers (as stop does), then start them again with the same files')
    .argument('<container...>', 'name, id or id prefix')
    .option('-t, --time <secs>', 'seconds to wait before SIGKILL', parseSeconds, 10))
    .action(async (refs: string[], flags: { time: number; root?: string }) => {
      await eachContainer(flags.root, refs, async (root, state) => void (await restartContainer(root, state, flags.time)));
    });
}
