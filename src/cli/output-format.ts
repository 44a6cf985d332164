/**
 * `--format` as docker's listing commands take it:
 *   (none) or `table`      the command's default table
 *   `table TEMPLATE`       a header row (docker's column names), then a row per item, aligned
 *   `json`                 one JSON object per line, docker's key names, keys sorted
 *   TEMPLATE               a Go template per item (`{{.ID}}\t{{.Size}}`; `\t` and `\n` are escapes)
 * An unknown field is an error naming the fields there are, even when the list is empty.
 */
import { parseTemplate, TemplateError } from './go-template.js';
import { UsageError } from '../errors.js';

export type Row = Record<string, unknown>;

export interface Listing {
  /** The default format, e.g. `table {{.ID}}\t{{.Size}}`. */
  table: string;
  /** Every field a row has, with its column header (docker's) where it has one. */
  headers: Record<string, string>;
}

/** docker's tabwriter settings: minwidth 10, padding 3, spaces; the last cell of a line is not padded. */
export function tabwrite(lines: string[]): string {
  const cells = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const row of cells) {
    row.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  }
  return cells
    .map((row) => row.map((c, i) => (i === row.length - 1 ? c : c + ' '.repeat(Math.max(10, widths[i]! + 3) - [...c].length))).join(''))
    .map((l) => l + '\n')
    .join('');
}

/** `{{.A}}\t{{.B}}` as typed on a command line: the two-character escapes become tab and newline. */
function templateText(format: string): string {
  return format.replace(/^ +| +$/g, '').replaceAll('\\t', '\t').replaceAll('\\n', '\n');
}

const sortKeys = (r: Row): Row => Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]]));

/** Renders `rows` as `format` says; `quiet` lists `{{.ID}}` only (docker's -q). */
export function formatRows(format: string | undefined, rows: Row[], listing: Listing, opts: { quiet?: boolean } = {}): string {
  let f = format === undefined || format === '' || format === 'table' ? listing.table : format;
  if (opts.quiet) f = '{{.ID}}';
  if (f === 'json') return rows.map((r) => JSON.stringify(sortKeys(r)) + '\n').join('');
  const isTable = f.startsWith('table');
  const tmpl = withContext(() => parseTemplate(templateText(isTable ? f.slice('table'.length) : f)));
  // The probe makes a template with an unknown field fail on an empty list too.
  const probe = Object.fromEntries(Object.keys(listing.headers).map((k) => [k, '']));
  const lines = withContext(() => (rows.length ? rows : [probe]).map((r) => tmpl.execute(r)));
  if (rows.length === 0) lines.length = 0;
  if (!isTable) return lines.map((l) => l + '\n').join('');
  const header = tmpl.execute(listing.headers, { header: true });
  return tabwrite([header, ...lines].flatMap((l) => l.split('\n')));
}

/** `inspect`: an indented JSON array by default, `json` one compact array, or a template per object. */
export function formatObjects(format: string | undefined, objects: unknown[]): string {
  if (format === undefined || format === '') return JSON.stringify(objects, null, 4) + '\n';
  if (format === 'json') return JSON.stringify(objects) + '\n';
  const tmpl = withContext(() => parseTemplate(templateText(format)));
  return withContext(() => objects.map((o) => tmpl.execute(o) + '\n').join(''));
}

/** A template error as one line that says it is about --format. */
function withContext<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TemplateError) throw new UsageError(`--format: ${err.message}`);
    throw err;
  }
}
