import { describe, expect, it } from 'vitest';
import { formatObjects, formatRows, tabwrite, type Listing } from '../../src/cli/output-format.js';

const L: Listing = { table: 'table {{.ID}}\t{{.Size}}', headers: { ID: 'IMAGE ID', Size: 'SIZE', Tag: 'TAG' } };
const rows = [
  { Tag: 'latest', Size: '1kB', ID: 'abc' },
  { Tag: '1', Size: '2MB', ID: 'abcdefghijklmn' },
];

describe('formatRows: --format as docker listings take it', () => {
  it.each([
    ['(default)', undefined, 'IMAGE ID         SIZE\nabc              1kB\nabcdefghijklmn   2MB\n'],
    ['table', 'table', 'IMAGE ID         SIZE\nabc              1kB\nabcdefghijklmn   2MB\n'],
    ['json: one object a line, keys sorted', 'json', '{"ID":"abc","Size":"1kB","Tag":"latest"}\n{"ID":"abcdefghijklmn","Size":"2MB","Tag":"1"}\n'],
    ['a template per row', '{{.ID}}:{{.Tag}}', 'abc:latest\nabcdefghijklmn:1\n'],
    ['\\t typed on a command line is a tab', '{{.Tag}}\\t{{.Size}}', 'latest\t1kB\n1\t2MB\n'],
    ['table TEMPLATE: docker headers, columns at least 10 wide', 'table {{.Tag}}\\t{{.ID}}', 'TAG       IMAGE ID\nlatest    abc\n1         abcdefghijklmn\n'],
    ['functions pass headers through', 'table {{upper .Tag}}\\t{{json .Size}}', 'TAG       SIZE\nLATEST    "1kB"\n1         "2MB"\n'],
    ["Go's own functions run on the header too, as docker's do", 'table {{.Tag}}\\t{{len .ID}}', 'TAG       8\nlatest    3\n1         14\n'],
    ['plain text is a template too (docker prints it per row)', 'x', 'x\nx\n'],
  ])('%s', (_what, format, out) => expect(formatRows(format, rows, L)).toBe(out));

  it('-q lists IDs whatever the format', () => expect(formatRows('json', rows, L, { quiet: true })).toBe('abc\nabcdefghijklmn\n'));

  it.each([
    ['{{.Nope}}', "--format: template: at <.Nope>: can't evaluate field Nope (fields: ID, Size, Tag)"],
    ['{{if .ID}}', '--format: template: unexpected EOF: {{if}} without {{end}}'],
    ['{{foo}}', '--format: template: function "foo" not defined'],
  ])('%s is a one-line usage error, even for an empty list', (format, message) => {
    for (const list of [rows, []]) {
      expect(() => formatRows(format, list, L)).toThrow(expect.objectContaining({ code: 'USAGE', message }));
    }
  });

  it('an empty list: nothing, or only the header row of a table', () => {
    expect(formatRows('json', [], L)).toBe('');
    expect(formatRows('{{.ID}}', [], L)).toBe('');
    expect(formatRows(undefined, [], L)).toBe('IMAGE ID   SIZE\n');
  });
});

describe('formatObjects: inspect', () => {
  const objs = [{ Id: 'sha256:1', Config: { Cmd: ['/hello'] } }];
  it.each([
    [undefined, '[\n    {\n        "Id": "sha256:1",\n        "Config": {\n            "Cmd": [\n                "/hello"\n            ]\n        }\n    }\n]\n'],
    ['json', '[{"Id":"sha256:1","Config":{"Cmd":["/hello"]}}]\n'],
    ['{{.Id}}', 'sha256:1\n'],
    ['{{json .Config}}', '{"Cmd":["/hello"]}\n'],
    ['{{.Config.Cmd}} {{index .Config.Cmd 0}}', '[/hello] /hello\n'],
  ])('--format %s', (format, out) => expect(formatObjects(format, objs)).toBe(out));

  it('an unknown field is a one-line error', () => {
    expect(() => formatObjects('{{.Config.Nope}}', objs)).toThrow("--format: template: at <.Config.Nope>: can't evaluate field Nope (fields: Cmd)");
  });
});

describe('tabwrite (docker\'s tabwriter: minwidth 10, padding 3)', () => {
  it('pads tab-ended cells, leaves the last one', () => {
    expect(tabwrite(['A\tBB\tC', 'xxxxxxxxxxxx\ty\t'])).toBe('A              BB        C\nxxxxxxxxxxxx   y         \n');
  });
});
