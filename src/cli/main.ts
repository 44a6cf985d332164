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
  () => import('./commit.js'),
  () => import('./diff.js'),
  () => import('./export.js'),
  () => import('./history.js'),
  () => import('./images.js'),
  () => import('./import.js'),
  () => import('./inspect.js'),
  () => import('./load.js'),
  () => import('./login.js'),
  () => import('./logout.js'),
  () => import('./mount.js'),
  () => import('./ps.js'),
  () => import('./pull.js'),
  () => import('./push.js'),
  () => import('./rm.js'),
  () => import('./rmi.js'),
  () => import('./run.js'),
  () => import('./save.js'),
  () => import('./tag.js'),
  () => import('./umount.js'),
];

const GLOBAL_FLAGS = new Set(['-h', '--help', '-V', '--version']);

/**
 * podman runs a mount program as `PROG -o OPTS MOUNTPOINT` and mount.fuse3 as
 * `PROG SOURCE MOUNTPOINT -o OPTS`: anything that is not a command name is a mount.
 */
export function withDefaultCommand(argv: string[], names: Set<string>): string[] {
  const first = argv[0];
  if (first === undefined || GLOBAL_FLAGS.has(first) || names.has(first)) return argv;
  return ['mount', ...argv];
}

/**
 * `layerfs --root DIR CMD ...` means `layerfs CMD --root DIR ...`: the option
 * goes right after the command name, before any arguments of a container's command.
 */
export function withGlobalRoot(argv: string[], names: Set<string>): string[] {
  const first = argv[0];
  if (first === '--root' && argv.length >= 2) return withGlobalRoot(argv.slice(2), names).toSpliced(1, 0, '--root', argv[1]!);
  if (first?.startsWith('--root=')) return withGlobalRoot(argv.slice(1), names).toSpliced(1, 0, first);
  return withDefaultCommand(argv, names);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('layerfs')
    .description('union-filesystem layers: an overlay filesystem over FUSE, a layer store and a small runtime')
    .version(version, '-V, --version')
    .exitOverride()
    .showHelpAfterError();
  for (const load of commands) (await load()).register(program);
  const names = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  names.add('help');
  try {
    await program.parseAsync(withGlobalRoot(argv, names), { from: 'user' });
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
