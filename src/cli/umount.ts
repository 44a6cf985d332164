/** `layerfs umount MOUNTPOINT`: unmounts; the daemon serving it then exits. */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { unmountFuse } from '../sys.js';

export function register(program: Command): void {
  program
    .command('umount')
    .alias('unmount')
    .description('unmount a layerfs mount')
    .argument('<mountpoint>')
    .action(async (mountpoint: string) => {
      await unmountFuse(resolve(mountpoint));
    });
}
