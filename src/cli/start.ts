/** `layerfs start [-a] CONTAINER...`: runs stopped containers again under a supervisor, on the same upper dir. */
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { startContainer } from '../runtime/control.js';
import { eachContainer } from './each-container.js';
import { followOutput, logSize } from './logs.js';
import { withRoot } from './store-options.js';

export function register(program: Command): void {
  withRoot(program
    .command('start')
    .description('start stopped containers (detached, same upper dir); -a: print the output and exit with the status')
    .argument('<container...>', 'name, id or id prefix')
    .option('-a, --attach', "print the container's output until it exits, and exit with its code"))
    .action(async (refs: string[], flags: { attach?: boolean; root?: string }) => {
      if (flags.attach && refs.length > 1) throw new UsageError('start -a takes one container');
      if (!flags.attach) {
        await eachContainer(flags.root, refs, async (root, state) => void (await startContainer(root, state)));
        return;
      }
      await eachContainer(flags.root, refs, async (root, state) => {
        const offset = logSize(root, state);
        const started = await startContainer(root, state);
        process.exitCode = await followOutput(root, started, { follow: true, offset });
        return null;
      });
    });
}
