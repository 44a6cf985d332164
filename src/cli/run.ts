/** `layerfs run [flags] IMAGE [CMD...]`: a thin wrapper over runContainer, or over a supervisor with -d. */
import type { Command } from 'commander';
import { LayerfsError, UsageError } from '../errors.js';
import { createFromImage, RUNTIME_FAILED, runContainer, type RunOptions } from '../runtime/run.js';
import { spawnSupervisor } from '../runtime/supervisor.js';
import { removeContainerDir } from '../runtime/containers.js';
import { errorLine } from './user-error.js';
import { handOverClosedPipe, SIGPIPE_EXIT } from './closed-pipe.js';
import { runOptionsOf, withRunFlags, type RunFlags } from './run-flags.js';

export function register(program: Command): void {
  // CMD's own flags (`run IMG sh -c ...`) must not be read as ours.
  program.enablePositionalOptions();
  withRunFlags(program
    .command('run')
    .description('run a command in a new container (its own namespaces, the image layers under a fresh upper dir)')
    .argument('<image>', 'image name[:tag] or ID (hello-world is built in)')
    .argument('[command...]', "replaces the image's Cmd")
    .passThroughOptions()
    .option('-d, --detach', 'run in the background under a supervisor and print the container ID'))
    .action(async (image: string, command: string[], flags: RunFlags) => {
      try {
        if (flags.tty && !process.stdin.isTTY && !flags.detach) throw new UsageError('the input device is not a TTY (-t needs a terminal)');
        const opts = await runOptionsOf(image, command, flags);
        if (flags.detach) {
          process.stdout.write(`${await runDetached(opts)}\n`);
          return;
        }
        if (opts.restart!.name !== 'no') throw new UsageError('--restart needs -d (the supervisor restarts the container)');
        handOverClosedPipe();
        const result = await runContainer(opts);
        if (result.status === 'created') process.stderr.write(`layerfs: ${result.error}\n`);
        // As docker's CLI, ended by SIGPIPE (a shell sees 141); its container went first.
        process.exitCode = result.outputClosed ? SIGPIPE_EXIT : result.exitCode;
      } catch (err) {
        if (!(err instanceof LayerfsError) && (err as { code?: unknown }).code === undefined) throw err;
        process.stderr.write(`layerfs: ${errorLine(err) ?? (err as Error).message}\n`);
        // A command that could not be executed: docker's 126 or 127.
        const code = err instanceof LayerfsError ? err.data.exitCode : undefined;
        process.exitCode = typeof code === 'number' ? code : RUNTIME_FAILED;
      }
    });
}

/** Creates the container and hands it to a supervisor; its ID once the command runs. */
async function runDetached(opts: RunOptions): Promise<string> {
  const { store, state } = await createFromImage(opts);
  try {
    opts.onCreate?.(state);
    await spawnSupervisor(store.root, state.id);
  } catch (err) {
    if (opts.remove) {
      await removeContainerDir(store.root, state.id);
      await store.release(state.id);
    }
    throw err;
  }
  return state.id;
}
