/**
 * The layerfs command line: a thin commander program over the library. Each
 * command lives in its own module under src/cli/ and exports `register`.
 */
import { Command, CommanderError } from 'commander';
import { version } from '../version.js';
import { reportError, USAGE_FAILED } from './user-error.js';
import { checkStoreAccess } from './store-access.js';
import { quietOnClosedPipe } from './closed-pipe.js';

type Register = (program: Command) => void;

// One line per command module (name, and aliases, as the module registers them); keep them sorted.
const commands: Record<string, () => Promise<{ register: Register }>> = {
  build: () => import('./build.js'),
  commit: () => import('./commit.js'),
  cp: () => import('./cp.js'),
  create: () => import('./create.js'),
  diff: () => import('./diff.js'),
  exec: () => import('./exec.js'),
  export: () => import('./export.js'),
  history: () => import('./history.js'),
  images: () => import('./images.js'),
  import: () => import('./import.js'),
  inspect: () => import('./inspect.js'),
  kill: () => import('./kill.js'),
  load: () => import('./load.js'),
  login: () => import('./login.js'),
  logout: () => import('./logout.js'),
  logs: () => import('./logs.js'),
  mount: () => import('./mount.js'),
  mountd: () => import('./mountd.js'),
  ps: () => import('./ps.js'),
  pull: () => import('./pull.js'),
  push: () => import('./push.js'),
  restart: () => import('./restart.js'),
  rm: () => import('./rm.js'),
  rmi: () => import('./rmi.js'),
  run: () => import('./run.js'),
  save: () => import('./save.js'),
  start: () => import('./start.js'),
  stop: () => import('./stop.js'),
  supervise: () => import('./supervise.js'),
  system: () => import('./system.js'),
  tag: () => import('./tag.js'),
  umount: () => import('./umount.js'),
  wait: () => import('./wait.js'),
};
const aliases: Record<string, string> = { unmount: 'umount' };


const GLOBAL_FLAGS = new Set(['-h', '--help', '-V', '--version']);

/**
 * podman runs a mount program as `PROG -o OPTS MOUNTPOINT` and mount.fuse3 as
 * `PROG SOURCE MOUNTPOINT -o OPTS`: anything that is not a command name is a mount.
 */
export function withDefaultCommand(argv: string[], names: Set<string>): string[] {
  const first = argv[0];
  if (first === undefined || GLOBAL_FLAGS.has(first) || names.has(first)) return argv;
  // Both forms carry -o; without it, a word that is no command is a typo.
  const mountForm = argv.some((a) => a === '-o' || a.startsWith('-o') || a.startsWith('--options'));
  return mountForm ? ['mount', ...argv] : argv;
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
  quietOnClosedPipe();
  const program = new Command('layerfs')
    .description('union-filesystem layers: an overlay filesystem over FUSE, a layer store, a container runtime, an image builder and a registry client')
    .version(version, '-V, --version')
    .exitOverride()
    // commander's own messages are printed by main, as one line and a hint
    .configureOutput({ outputError: () => {} })
    .hook('preAction', (_program, cmd) => checkStoreAccess(cmd))
    .addHelpText('after', '\nEnvironment:\n  LAYERFS_ROOT     the store (default /var/lib/layerfs; --root DIR on any command)\n  LAYERFS_DEBUG=1  print stack traces with errors');
  const names = new Set([...Object.keys(commands), ...Object.keys(aliases), 'help']);
  const args = withGlobalRoot(argv, names);
  // Load only the command asked for: podman starts a mount program for every
  // container, so its start-up time counts. Help and errors load them all.
  const name = aliases[args[0] ?? ''] ?? args[0] ?? '';
  // `--version` needs none (podman's `info` asks a mount program for it).
  const wanted = name === '-V' || name === '--version' ? []
    : commands[name] && !args.includes('--help') && !args.includes('-h') ? [commands[name]] : Object.values(commands);
  for (const load of wanted) (await load()).register(program);
  try {
    await program.parseAsync(args, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.help' || err.code === 'commander.helpDisplayed') return err.exitCode;
      const cmd = commands[name] ? `layerfs ${args[0]}` : 'layerfs';
      process.stderr.write(`layerfs: ${err.message.replace(/^error: /, '')}\nSee '${cmd} --help'.\n`);
      return USAGE_FAILED;
    }
    return reportError(err);
  }
}
