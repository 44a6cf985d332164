/** `layerfs import FILE|DIR|- [REF]`: a tarball (rootfs or layer, plain or compressed), a directory or stdin becomes a one-layer image. */
import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { packTree } from '../runtime/tree-tar.js';
import { importTarball } from '../store/load.js';
import type { Opener } from '../store/types.js';
import { nonEmptyStdin } from './stdin.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';
import { applyChanges } from '../build/config-changes.js';

const collect = (value: string, prev: string[]) => [...prev, value];

export function register(program: Command): void {
  withRoot(
    program
      .command('import')
      .description('create a one-layer image from a tarball, a directory (its tree is the rootfs) or - (stdin)')
      .argument('<file>', 'tar, tar.gz or tar.zst; a directory; - reads the tarball from stdin')
      .argument('[ref]', 'name[:tag] for the new image')
      .option('-c, --change <instruction>', "apply a Dockerfile instruction to the image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR); may repeat", collect, []),
  ).action(async (file: string, ref: string | undefined, opts: RootOptions & { change: string[] }) => {
    const changeConfig = opts.change.length ? (c: object) => applyChanges(c, opts.change) : undefined;
    if (changeConfig) changeConfig({}); // a bad --change fails before the tarball is read
    let source: { name: string; open?: Opener } = { name: file };
    if (file === '-') {
      if (process.stdin.isTTY) throw new UsageError('import -: stdin is a terminal; pipe a tarball in (layerfs import - NAME < rootfs.tar)');
      const input = await nonEmptyStdin();
      if (input === null) throw new UsageError('import -: stdin is empty; pipe a tarball in (layerfs import - NAME < rootfs.tar)');
      source = { name: 'stdin', open: () => input };
    } else if ((await stat(file)).isDirectory()) {
      const dir = resolve(file);
      source = { name: basename(dir) || dir, open: () => packTree(dir, { layer: false }) };
    }
    const img = await importTarball(await openStore(opts), source.name, ref, { open: source.open, changeConfig });
    process.stdout.write(`${img.id}\n`);
  });
}
