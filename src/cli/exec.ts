/** `layerfs exec [-it] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...`: a command in a running container; its exit code is ours. */
import { Command } from 'commander';
import { LayerfsError, UsageError } from '../errors.js';
import { findContainer } from '../runtime/containers.js';
import { execInContainer } from '../runtime/exec.js';
import { Store } from '../store/store.js';

const collect = (value: string, prev: string[]) => [...prev, value];

interface ExecFlags { env: string[]; workdir?: string; user?: string; interactive?: boolean; tty?: boolean; root?: string }

export function register(program: Command): void {
  program.enablePositionalOptions();
  program
    .command('exec')
    .description("run a command in a running container: its namespaces, root, environment and user")
    .argument('<container>', 'name, id or id prefix')
    .argument('<command...>', 'the command and its arguments')
    .passThroughOptions()
    .option('-e, --env <K=V>', 'set an environment variable; may repeat', collect, [])
    .option('-w, --workdir <dir>', "working directory (default: the container's)")
    .option('-u, --user <user>', "name|uid[:group|gid] (default: the container's)")
    .option('-i, --interactive', 'keep stdin attached')
    .option('-t, --tty', 'give the command a terminal')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .action(async (ref: string, command: string[], flags: ExecFlags) => {
      try {
        if (flags.tty && !process.stdin.isTTY) throw new UsageError('the input device is not a TTY (-t needs a terminal)');
        const store = await Store.open(flags.root);
        process.exitCode = await execInContainer(store.root, await findContainer(store.root, ref), {
          command, env: flags.env, workdir: flags.workdir, user: flags.user, interactive: flags.interactive, tty: flags.tty,
        });
      } catch (err) {
        if (!(err instanceof LayerfsError) && (err as { code?: unknown }).code === undefined) throw err;
        process.stderr.write(`layerfs: ${(err as Error).message}\n`);
        // docker exec: 125 is for its own flags; a container that is missing or not running is an error (1), 126/127 the command's
        process.exitCode = 1;
      }
    });
}
