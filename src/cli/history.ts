/** `layerfs history IMAGE`: the layers and the steps that made them, newest first. */
import { Command } from 'commander';
import { shortId } from '../oci/digest.js';
import { historyRows } from '../store/describe.js';
import { humanSize, table, timeAgo } from './format.js';
import { checkFormat, openStore, printJson, withRoot, type RootOptions } from './store-options.js';

const displayId = (id: string, noTrunc: boolean) => (id === '<missing>' || noTrunc ? id : shortId(id));

export function register(program: Command): void {
  withRoot(
    program
      .command('history')
      .description('show the history of an image')
      .argument('<image>')
      .option('--format <format>', 'table or json', 'table')
      .option('--no-trunc', 'full IDs and commands'),
  ).action(async (ref: string, opts: RootOptions & { format?: string; trunc: boolean }) => {
    const format = checkFormat(opts.format, ['table', 'json']);
    const store = await openStore(opts);
    const img = await store.resolve(ref);
    const byId = new Map((await store.images()).map((r) => [r.id, r]));
    const ancestors: string[] = [];
    for (let p = img.parent; p && byId.has(p); p = byId.get(p)!.parent) ancestors.push(p);
    const rows = historyRows(img, await store.config(img), ancestors);
    if (format === 'json') return printJson(rows);
    const cut = (s: string) => (opts.trunc && s.length > 45 ? s.slice(0, 44) + '…' : s);
    process.stdout.write(
      table(
        ['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
        rows.map((r) => [displayId(r.image, !opts.trunc), timeAgo(r.created), cut(r.createdBy), humanSize(r.size), r.comment]),
      ),
    );
  });
}
