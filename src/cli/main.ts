/**
 * The layerfs command line: a thin commander program over the library. Each
 * command lives in its own module under src/cli/ and exports `register`.
 */
import { Command, CommanderError } from 'commander';
import { LayerfsError } from '../errors.js';
import { version } from '../version.js';

type Register = (program: Command) => void;

// One line per command module; keep them sorted by name.
const commands: Array<() => Promise<{ register: Register }>> = [
  () => import('./history.js'),
  () => import('./images.js'),
  () => import('./import.js'),
  () => import('./inspect.js'),
  () => import('./load.js'),
  () => import('./login.js'),
  () => import('./logout.js'),
  () => import('./pull.js'),
  () => import('./push.js'),
  () => import('./rmi.js'),
  () => import('./run.js'),
  () => import('./save.js'),
  () => import('./tag.js'),
];

export async function main(argv: string[]): Promise<number> {
  const program = new Command('layerfs')
    .description('union-filesystem layers: an overlay filesystem over FUSE, a layer store and a small runtime')
    .version(version, '-V, --version')
    .exitOverride()
    .showHelpAfterError();
  for (const load of commands) (await load()).register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof LayerfsError || (err as { code?: unknown }).code !== undefined) {
      process.stderr.write(`layerfs: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}
