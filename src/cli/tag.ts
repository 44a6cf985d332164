/** `layerfs tag SOURCE TARGET`: another name for an image. */
import { Command } from 'commander';
import { openStore, withRoot, type RootOptions } from './store-options.js';

export function register(program: Command): void {
  withRoot(
    program.command('tag').description('give an image another name').argument('<source>', 'image name, tag or ID').argument('<target>', 'name[:tag]'),
  ).action(async (src: string, dst: string, opts: RootOptions) => {
    await (await openStore(opts)).tag(src, dst);
  });
}
