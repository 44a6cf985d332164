/** `layerfs umount MOUNTPOINT`: unmounts; the process serving it (the mount server, or a daemon of its own) lets go of it. */
import { Command } from 'commander';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LayerfsError } from '../errors.js';
import { isMounted } from '../runtime/rootfs.js';
import { unmountFuse } from '../sys.js';

export function register(program: Command): void {
  program
    .command('umount')
    .alias('unmount')
    .description('unmount a layerfs mount')
    .argument('<mountpoint>')
    .action(async (mountpoint: string) => {
      // /proc/mounts names the real path; fusermount's own text for a path that is no mount says less.
      const path = resolve(mountpoint);
      // A mount whose daemon died answers ENOTCONN: still a mount, to be taken down.
      const target = await realpath(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOTCONN' ? path : Promise.reject(err)));
      if (!isMounted(target)) throw new LayerfsError('NOT_MOUNTED', `not mounted: ${target}`, { path: target });
      await unmountFuse(target);
    });
}
