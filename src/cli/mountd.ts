/**
 * `layerfs mountd [--dir DIR]`: the mount server (src/mount-server.ts), which
 * `layerfs mount` and the runtime start on demand; not meant to be run by hand.
 */
import { Command } from 'commander';
import { runMountServer } from '../mount-server.js';
import { mountdPaths } from '../mountd-paths.js';

export function register(program: Command): void {
  program
    .command('mountd', { hidden: true })
    .description('serve layerfs mounts handed over a socket (started on demand)')
    .option('--dir <dir>', 'where the socket and lock live (default /run/layerfs for root)')
    .action(async (flags: { dir?: string }) => {
      await runMountServer(mountdPaths(flags.dir));
    });
}
