/** `layerfs kill [-s SIG] CONTAINER...`: a signal to each container's PID 1. */
import { Command } from 'commander';
import { killContainer, parseSignal } from '../runtime/control.js';
import { eachContainer } from './each-container.js';
import { withRoot } from './store-options.js';

export function register(program: Command): void {
  withRoot(program
    .command('kill')
    .description("send a signal to containers' PID 1 (its restart policy then stays out)")
    .argument('<container...>', 'name, id or id prefix')
    .option('-s, --signal <sig>', 'signal name or number', 'SIGKILL'))
    .action(async (refs: string[], flags: { signal: string; root?: string }) => {
      const sig = parseSignal(flags.signal);
      await eachContainer(flags.root, refs, (root, state) => killContainer(root, state, sig));
    });
}
