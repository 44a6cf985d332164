/** `layerfs supervise --root ROOT ID` (hidden): the body of a container's supervisor, see src/runtime/supervisor.ts. */
import { Command } from 'commander';
import { supervise } from '../runtime/supervisor.js';

export function register(program: Command): void {
  program
    .command('supervise', { hidden: true })
    .argument('<id>')
    .requiredOption('--root <dir>')
    .action(async (id: string, flags: { root: string }) => {
      await supervise(flags.root, id);
    });
}
