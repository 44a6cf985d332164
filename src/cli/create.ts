/** `layerfs create [flags] IMAGE [CMD...]`: docker create; `start` runs it later. */
import type { Command } from 'commander';
import { LayerfsError } from '../errors.js';
import { createFromImage, RUNTIME_FAILED } from '../runtime/run.js';
import { errorLine } from './user-error.js';
import { runOptionsOf, withRunFlags, type RunFlags } from './run-flags.js';

export function register(program: Command): void {
  // CMD's own flags (`create IMG sh -c ...`) must not be read as ours.
  program.enablePositionalOptions();
  withRunFlags(program
    .command('create')
    .description('create a container without starting it (start runs it, with the same flags); prints its ID')
    .argument('<image>', 'image name[:tag] or ID (hello-world is built in)')
    .argument('[command...]', "replaces the image's Cmd")
    .passThroughOptions())
    .action(async (image: string, command: string[], flags: RunFlags) => {
      try {
        const opts = await runOptionsOf(image, command, flags);
        const { state } = await createFromImage(opts);
        opts.onCreate?.(state);
        process.stdout.write(`${state.id}\n`);
      } catch (err) {
        if (!(err instanceof LayerfsError) && (err as { code?: unknown }).code === undefined) throw err;
        process.stderr.write(`layerfs: ${errorLine(err) ?? (err as Error).message}\n`);
        process.exitCode = RUNTIME_FAILED;
      }
    });
}
