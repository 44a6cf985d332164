/** `layerfs history IMAGE`: the layers and the steps that made them, newest first. */
import { Command } from 'commander';
import { shortId } from '../oci/digest.js';
import { historyRows } from '../store/describe.js';
import { ellipsis, humanSize, timeAgo } from './format.js';
import { formatRows, type Listing } from './output-format.js';
import { openStore, withRoot, type RootOptions } from './store-options.js';

export const HISTORY: Listing = {
  table: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
  headers: { Comment: 'COMMENT', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', CreatedSince: 'CREATED', ID: 'IMAGE', Size: 'SIZE' },
};

/** RFC 3339 to the second, as docker's history prints CreatedAt. */
const rfc3339 = (iso: string | undefined) => (iso && !Number.isNaN(Date.parse(iso)) ? new Date(iso).toISOString().replace(/\.\d+Z$/, 'Z') : '');

export function register(program: Command): void {
  withRoot(
    program
      .command('history')
      .description('show the history of an image')
      .argument('<image>')
      .option('--format <format>', "table (default), json (one object a line), 'table TEMPLATE' or a Go TEMPLATE such as '{{.CreatedBy}}'")
      .option('-H, --human <bool>', 'sizes and dates for people; --human=false: bytes and RFC 3339 dates', 'true')
      .option('-q, --quiet', 'only image IDs')
      .option('--no-trunc', 'full IDs and commands'),
  ).action(async (ref: string, opts: RootOptions & { format?: string; quiet?: boolean; trunc: boolean; human: string }) => {
    const human = !/^=?(false|0)$/.test(opts.human); // -H=false reaches us as '=false'
    const store = await openStore(opts);
    const img = await store.resolve(ref);
    const byId = new Map((await store.images()).map((r) => [r.id, r]));
    const ancestors: string[] = [];
    for (let p = img.parent; p && byId.has(p); p = byId.get(p)!.parent) ancestors.push(p);
    const rows = historyRows(img, await store.config(img), ancestors).map((r) => {
      const createdBy = r.createdBy.replaceAll('\t', ' ');
      return {
        Comment: r.comment,
        CreatedAt: rfc3339(r.created),
        CreatedBy: opts.trunc ? ellipsis(createdBy, 45) : createdBy,
        CreatedSince: !human ? rfc3339(r.created) : r.created && Date.parse(r.created) > Date.parse('2000-01-01T00:00:00Z') ? timeAgo(r.created) : 'N/A',
        ID: r.image === '<missing>' || !opts.trunc ? r.image : shortId(r.image),
        Size: human ? humanSize(r.size) : String(r.size),
      };
    });
    const format = !human && (opts.format === undefined || opts.format === 'table') ? HISTORY.table.replace('{{.CreatedSince}}', '{{.CreatedAt}}') : opts.format;
    process.stdout.write(formatRows(format, rows, HISTORY, { quiet: opts.quiet }));
  });
}
