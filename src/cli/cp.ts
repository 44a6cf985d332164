/** `layerfs cp [-a] [-L] [-q] CONTAINER:SRC HOSTDEST | HOSTSRC CONTAINER:DEST`, as docker cp. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { Store } from '../store/store.js';
import { findContainer } from '../runtime/containers.js';
import { copyIn, copyOut } from '../runtime/copy.js';
import { humanSize } from './format.js';

/** docker's rule: a path that starts with / or . is local, else CONTAINER:PATH splits at the first colon. */
function splitArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const colon = arg.indexOf(':');
  return colon <= 0 ? { path: arg } : { container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' };
}

export function register(program: Command): void {
  program
    .command('cp')
    .description('copy files between a container (running or not) and the host: CONTAINER:SRC DEST or SRC CONTAINER:DEST')
    .argument('<src>', 'CONTAINER:PATH or a host path')
    .argument('<dest>', 'CONTAINER:PATH or a host path')
    .option('-a, --archive', 'keep the source\'s owners (default: the copy belongs to root)')
    .option('-L, --follow-link', 'copy what a source symlink points to')
    .option('-q, --quiet', 'print nothing on success')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .addHelpText('after', '\nAs docker cp: a file onto a directory goes into it; a directory onto a missing name becomes it,\nonto a directory goes inside it (SRC/. copies only its contents).')
    .action(async (srcArg: string, destArg: string, flags: { archive?: boolean; followLink?: boolean; quiet?: boolean; root?: string }) => {
      const src = splitArg(srcArg);
      const dest = splitArg(destArg);
      if (src.container !== undefined && dest.container !== undefined) throw new UsageError('copying between containers is not supported');
      if (src.container === undefined && dest.container === undefined) throw new UsageError('must specify at least one container source');
      if (srcArg === '-' || destArg === '-') throw new UsageError('cp with - (a tar stream) is not supported: use export, or a directory');
      const store = await Store.open(flags.root);
      const opts = { archive: flags.archive, follow: flags.followLink };
      const bytes = src.container !== undefined
        ? await copyOut(store.root, await findContainer(store.root, src.container), src.path, dest.path, opts)
        : await copyIn(store.root, await findContainer(store.root, dest.container!), src.path, dest.path, opts);
      if (!flags.quiet) process.stderr.write(`Successfully copied ${humanSize(bytes)} to ${destArg}\n`);
    });
}
