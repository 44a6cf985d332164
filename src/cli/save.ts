/** `layerfs save -o FILE IMAGE...`: an OCI layout tar (Docker 25+ loads it too) or a classic docker-archive. */
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { saveImages, type SaveFormat } from '../store/save.js';
import { checkFormat, openStore, withRoot, type RootOptions } from './store-options.js';

export function register(program: Command): void {
  withRoot(
    program
      .command('save')
      .description('write images to a tar archive')
      .argument('<image...>')
      .option('-o, --output <file>', 'write to FILE (default: stdout when it is not a terminal)')
      .option('--format <format>', 'oci-archive or docker-archive', 'oci-archive'),
  ).action(async (refs: string[], opts: RootOptions & { output?: string; format?: string }) => {
    const format = checkFormat(opts.format, ['oci-archive', 'docker-archive']) as SaveFormat;
    if (opts.output === undefined && process.stdout.isTTY) throw new UsageError('refusing to write an archive to a terminal; use -o FILE');
    await saveImages(await openStore(opts), refs, opts.output ?? process.stdout, format);
  });
}
