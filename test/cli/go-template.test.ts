import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../../src/cli/go-template.js';

const data = {
  ID: 'abc',
  Names: ['a', 'b'],
  Config: { Env: ['A=1', 'B=2'], Labels: { y: '2', x: '1' }, Empty: {} },
  N: 3,
  E: '',
  Nil: null,
};

describe('go-template: the subset of text/template docker users write', () => {
  it.each([
    ['{{.ID}}', 'abc'],
    ['{{ .ID }}', 'abc'],
    ['{{.}}', 'map[Config:map[Empty:map[] Env:[A=1 B=2] Labels:map[x:1 y:2]] E: ID:abc N:3 Names:[a b] Nil:<nil>]'],
    ['{{.Config.Env}}', '[A=1 B=2]'],
    ['{{.Config.Labels}}', 'map[x:1 y:2]'],
    ['{{.Nil}}', '<no value>'],
    ['{{.Nil.Deeper}}', '<no value>'],
    ['{{json .Config.Labels}}', '{"y":"2","x":"1"}'],
    ['{{json .Nil}}', 'null'],
    ['{{.Config.Env | json}}', '["A=1","B=2"]'],
    ['{{join .Config.Env ","}}', 'A=1,B=2'],
    ['{{join .Config.Labels "+"}}', '1+2'],
    ['{{upper .ID}} {{.ID | upper | lower}} {{title "hello world"}}', 'ABC abc Hello World'],
    ['{{split "a:b" ":"}}', '[a b]'],
    ['[{{pad .ID 1 2}}][{{pad .E 1 2}}]', '[ abc  ][]'],
    ['{{truncate .ID 2}}', 'ab'],
    ['{{index .Names 1}} {{index .Config.Labels "x"}}', 'b 1'],
    ['{{len .Names}} {{len .ID}} {{len .Config.Labels}}', '2 3 2'],
    ['{{printf "%-5s|%3d|%q" .ID .N .ID}}', 'abc  |  3|"abc"'],
    ['{{println .ID .N}}', 'abc 3\n'],
    ['{{if .E}}e{{else if .N}}n={{.N}}{{else}}none{{end}}', 'n=3'],
    ['{{if .Config.Empty}}x{{else}}empty{{end}}', 'empty'],
    ['{{if and .ID .E}}a{{else}}b{{end}} {{or .E .ID}} {{and .ID .N}} {{not .E}}', 'b abc 3 true'],
    ['{{if eq .N 1 2 3}}yes{{end}} {{ne .ID "x"}} {{lt .N 4}} {{ge .ID "abd"}}', 'yes true true false'],
    ['{{with .Config}}{{join .Env ";"}}{{end}}', 'A=1;B=2'],
    ['{{with .E}}x{{else}}no E{{end}}', 'no E'],
    ['{{range .Names}}[{{.}}]{{end}}', '[a][b]'],
    ['{{range $i, $n := .Names}}{{$i}}:{{$n}} {{end}}', '0:a 1:b '],
    ['{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', 'x=1;y=2;'],
    ['{{range .Config.Empty}}x{{else}}nothing{{end}}', 'nothing'],
    ['{{range .Names}}{{$.ID}}{{end}}', 'abcabc'],
    ['{{$x := .ID}}{{$x}}-{{$x | upper}}', 'abc-ABC'],
    ['{{(index .Names 0) | upper}}', 'A'],
    ['a  {{- .ID -}}  b', 'aabcb'],
    ['{{"a}}b"}}{{`raw`}}', 'a}}braw'],
    ['{{"tab\\there \\x41\\u00e9"}}', 'tab\there A\u00e9'],
    ['x{{/* a comment */}}y', 'xy'],
    ['{{true}} {{1}} {{nil}}', 'true 1 <no value>'],
  ])('%s', (tmpl, out) => expect(parseTemplate(tmpl).execute(data)).toBe(out));

  it.each([
    ['{{.Missing}}', "template: at <.Missing>: can't evaluate field Missing (fields: Config, E, ID, N, Names, Nil)"],
    ['{{.Config.Nope}}', "template: at <.Config.Nope>: can't evaluate field Nope (fields: Empty, Env, Labels)"],
    ['{{.Names.X}}', "template: at <.Names.X>: can't evaluate field X in type slice"],
    ['{{$y}}', 'template: undefined variable "$y"'],
    ['{{foo .ID}}', 'template: function "foo" not defined'],
    ['{{if .ID}}x', 'template: unexpected EOF: {{if}} without {{end}}'],
    ['{{end}}', 'template: unexpected {{end}}'],
    ['{{else}}', 'template: unexpected {{else}}'],
    ['{{.ID', 'template: unclosed action: "{{.ID"'],
    ['{{template "x"}}', 'template: {{template}} is not supported'],
    ['{{.ID .N}}', "template: can't give argument to non-function .ID"],
    ['{{index .Names 5}}', 'template: index out of range: 5'],
    ['{{range .ID}}{{end}}', "template: range can't iterate over abc"],
    ['{{join .ID ","}}', 'template: join: expected a list, got string'],
    ['{{lt .ID .N}}', 'template: incompatible types for comparison: string and int'],
    ['{{}}', 'template: missing value in {{}}'],
    ['{{"\\q"}}', 'template: bad string literal "\\q"'],
    ['{{.ID | }}', 'template: missing value in {{.ID |}}'],
  ])('%s is an error', (tmpl, message) => expect(() => parseTemplate(tmpl).execute(data)).toThrow(message));

  it('header mode: unknown fields are empty, functions pass their argument through', () => {
    const t = parseTemplate('{{json .ID}}|{{upper .Size}}|{{.Other}}|{{join .ID ","}}');
    expect(t.execute({ ID: 'IMAGE ID', Size: 'SIZE' }, { header: true })).toBe('IMAGE ID|SIZE||IMAGE ID');
  });
});
