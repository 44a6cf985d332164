/** `layerfs stop [-t SECS] CONTAINER...`: the image's STOPSIGNAL (or SIGTERM), then SIGKILL after the timeout. */
import { Command } from 'commander';
import { stopContainer } from '../runtime/control.js';
import { eachContainer } from './each-container.js';
import { withRoot } from './store-options.js';

export const parseSeconds = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new Error(`invalid time '${v}': whole seconds`);
  return Number(v);
};

export function register(program: Command): void {
  withRoot(program
    .command('stop')
    .description("stop running containers: the image's STOPSIGNAL (default SIGTERM), then SIGKILL after the timeout")
    .argument('<container...>', 'name, id or id prefix')
    .option('-t, --time <secs>', 'seconds to wait before SIGKILL', parseSeconds, 10))
    .action(async (refs: string[], flags: { time: number; root?: string }) => {
      await eachContainer(flags.root, refs, async (root, state) => void (await stopContainer(root, state, flags.time)));
    });
}
