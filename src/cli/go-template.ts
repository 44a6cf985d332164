/**
 * The subset of Go's text/template that `docker --format` users write:
 *   {{.Field}} {{.A.B}} {{.}} {{$}} {{$v.Field}}   fields (an unknown field is an error)
 *   {{json .X}} {{join .X ","}} {{upper .X}} {{.X | lower}}   docker's functions, pipelines
 *   {{if .X}}…{{else if .Y}}…{{else}}…{{end}}  {{with .X}}…{{end}}
 *   {{range .X}}…{{end}}  {{range $k, $v := .X}}…{{else}}…{{end}}  {{$x := .X}}
 *   Go's index, len, printf, print, println, eq, ne, lt, le, gt, ge, and, or, not
 *   {{- trims}} and {{/* comments *\/}}
 * Values print as Go's fmt does (`[a b]`, `map[k:v]`, `<no value>`).
 * `template`, `define` and `block` are not supported: a parse error names them.
 */
import { LayerfsError } from '../errors.js';

export class TemplateError extends LayerfsError {
  constructor(message: string) {
    super('BAD_TEMPLATE', `template: ${message}`);
  }
}

type Arg =
  | { kind: 'field'; base: string | null; path: string[]; text: string } // base null: dot; else a variable name ($ for the root)
  | { kind: 'literal'; value: unknown }
  | { kind: 'fn'; name: string }
  | { kind: 'pipe'; pipe: Pipe };
interface Pipe {
  decl: string[];
  cmds: Arg[][];
}
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe }
  | { kind: 'if' | 'with'; pipe: Pipe; then: Node[]; else: Node[] }
  | { kind: 'range'; pipe: Pipe; then: Node[]; else: Node[] };

type Fn = (...args: unknown[]) => unknown;

/** Docker's functions (templates/templates.go) and Go's builtins. */
const FUNCS: Record<string, Fn> = {
  json: (v) => JSON.stringify(v ?? null),
  join: (v, sep) => {
    if (v == null) return '';
    const items = Array.isArray(v) ? v : typeof v === 'object' ? Object.values(v).map(goString).sort() : null;
    if (items === null) throw new TemplateError(`join: expected a list, got ${goType(v)}`);
    return items.map(goString).join(String(sep));
  },
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  pad: (s, pre, post) => (s === '' ? '' : ' '.repeat(Number(pre)) + String(s) + ' '.repeat(Number(post))),
  truncate: (s, n) => String(s).slice(0, Number(n)),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (Array.isArray(cur) || typeof cur === 'string') {
        const i = Number(k);
        if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw new TemplateError(`index out of range: ${String(k)}`);
        cur = cur[i];
      } else if (cur !== null && typeof cur === 'object') cur = (cur as Record<string, unknown>)[String(k)];
      else throw new TemplateError(`can't index item of type ${goType(cur)}`);
    }
    return cur;
  },
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw new TemplateError(`len of type ${goType(v)}`);
  },
  print: (...a) => a.map(goString).join(''),
  println: (...a) => a.map(goString).join(' ') + '\n',
  printf: (f, ...a) => sprintf(String(f), a),
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  not: (a) => !truthy(a),
};
/** and/or stop at the first deciding argument and return it, as Go's do. */
const LAZY = new Set(['and', 'or']);

/** In a table header row docker's own functions (not pad, not Go's) pass their first argument through (its HeaderFunctions). */
const HEADER_FUNCS: Record<string, Fn> = {
  ...FUNCS,
  ...Object.fromEntries(['json', 'split', 'join', 'title', 'lower', 'upper', 'truncate'].map((k) => [k, (v: unknown) => v])),
};

function compare(a: unknown, b: unknown): number {
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) throw new TemplateError(`incompatible types for comparison: ${goType(a)} and ${goType(b)}`);
  return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
}

function goType(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return 'slice';
  if (typeof v === 'object') return 'map';
  return typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float64') : typeof v;
}

export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** fmt.Sprint of a value: slices `[a b]`, maps `map[k:v]` (keys sorted), nil `<nil>`. */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${goString(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdqtfx%])/g, (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    let s =
      verb === 'q' ? JSON.stringify(goString(a))
      : verb === 'f' ? Number(a).toFixed(prec === undefined ? 6 : Number(prec))
      : verb === 'x' ? (typeof a === 'number' ? a.toString(16) : Buffer.from(String(a)).toString('hex'))
      : goString(a);
    if (verb === 's' && prec !== undefined) s = s.slice(0, Number(prec));
    const w = Number(width || 0);
    return flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
  });
}

// ---- parsing ----

interface Token {
  kind: 'field' | 'var' | 'string' | 'number' | 'ident' | '(' | ')' | '|' | ':=' | '=' | ',';
  text: string;
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = src.slice(i);
    const m =
      /^:=/.exec(rest) ? { kind: ':=' as const, len: 2 }
      : '()|=,'.includes(c) ? { kind: c as '(' | ')' | '|' | '=' | ',', len: 1 }
      : null;
    if (m) {
      out.push({ kind: m.kind, text: rest.slice(0, m.len) });
      i += m.len;
      continue;
    }
    const re: Array<[Token['kind'], RegExp]> = [
      ['string', /^"(?:[^"\\]|\\.)*"/],
      ['string', /^`[^`]*`/],
      ['number', /^-?\d+(?:\.\d+)?/],
      ['field', /^(?:\.[\p{L}_][\p{L}\p{N}_]*)+|^\./u],
      ['var', /^\$[\p{L}\p{N}_]*(?:\.[\p{L}_][\p{L}\p{N}_]*)*/u],
      ['ident', /^[\p{L}_][\p{L}\p{N}_]*/u],
    ];
    const hit = re.map(([kind, r]) => ({ kind, m: r.exec(rest) })).find((x) => x.m);
    if (!hit) throw new TemplateError(`unexpected "${c}" in action`);
    out.push({ kind: hit.kind, text: hit.m![0] });
    i += hit.m![0].length;
  }
  return out;
}

class Parser {
  pos = 0;
  constructor(private readonly toks: Token[], private readonly action: string) {}

  private peek(): Token | undefined {
    return this.toks[this.pos];
  }

  done(): boolean {
    return this.pos >= this.toks.length;
  }

  pipe(allowDecl: number): Pipe {
    const decl: string[] = [];
    // `$x :=` or `$k, $v :=` (range only)
    const save = this.pos;
    const names: string[] = [];
    while (this.peek()?.kind === 'var' && !this.peek()!.text.includes('.')) {
      names.push(this.toks[this.pos++]!.text);
      if (this.peek()?.kind === ',' && names.length < allowDecl) this.pos++;
      else break;
    }
    if (names.length > 0 && (this.peek()?.kind === ':=' || this.peek()?.kind === '=')) {
      this.pos++;
      decl.push(...names);
    } else this.pos = save;
    const cmds: Arg[][] = [];
    for (;;) {
      const cmd: Arg[] = [];
      while (!this.done() && this.peek()!.kind !== '|' && this.peek()!.kind !== ')') cmd.push(this.arg());
      if (cmd.length === 0) throw new TemplateError(`missing value in {{${this.action}}}`);
      cmds.push(cmd);
      if (this.peek()?.kind !== '|') break;
      this.pos++;
    }
    return { decl, cmds };
  }

  private arg(): Arg {
    const t = this.toks[this.pos++]!;
    switch (t.kind) {
      case 'field':
        return { kind: 'field', base: null, path: t.text === '.' ? [] : t.text.slice(1).split('.'), text: t.text };
      case 'var': {
        const [name, ...path] = t.text.split('.');
        return { kind: 'field', base: name!, path, text: t.text };
      }
      case 'string':
        return { kind: 'literal', value: t.text.startsWith('`') ? t.text.slice(1, -1) : unquote(t.text) };
      case 'number':
        return { kind: 'literal', value: Number(t.text) };
      case 'ident':
        if (t.text === 'true' || t.text === 'false') return { kind: 'literal', value: t.text === 'true' };
        if (t.text === 'nil') return { kind: 'literal', value: null };
        if (!(t.text in FUNCS) && !LAZY.has(t.text)) throw new TemplateError(`function "${t.text}" not defined`);
        return { kind: 'fn', name: t.text };
      case '(': {
        const pipe = this.pipe(0);
        if (this.toks[this.pos++]?.kind !== ')') throw new TemplateError(`unclosed left paren in {{${this.action}}}`);
        return { kind: 'pipe', pipe };
      }
      default:
        throw new TemplateError(`unexpected "${t.text}" in {{${this.action}}}`);
    }
  }
}

/** Splits the text into text and actions, honouring `{{-` and `-}}` trim markers. */
function scan(src: string): Array<{ text: string } | { action: string }> {
  const parts: Array<{ text: string } | { action: string }> = [];
  let pos = 0;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', pos);
    let text = src.slice(pos, open < 0 ? undefined : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      if (text) parts.push({ text });
      return parts;
    }
    const trimLeft = /^\{\{- /.test(src.slice(open, open + 4));
    if (trimLeft) text = text.replace(/\s+$/, '');
    if (text) parts.push({ text });
    // a `}}` inside a string literal does not close the action
    const body = /^(?:"(?:[^"\\]|\\.)*"|`[^`]*`|[^"`}]|\}(?!\}))*\}\}/.exec(src.slice(open + 2));
    if (!body) throw new TemplateError(`unclosed action: ${JSON.stringify(src.slice(open, open + 30))}`);
    let action = body[0].slice(0, -2);
    if (trimLeft) action = action.slice(2);
    trimNext = / -$/.test(action);
    if (trimNext) action = action.slice(0, -2);
    parts.push({ action: action.trim() });
    pos = open + 2 + body[0].length;
  }
}

export interface Template {
  /** Renders with `data` as dot; `header` renders a table's header row (unknown fields are empty, functions pass through). */
  execute(data: unknown, opts?: { header?: boolean }): string;
}

export function parseTemplate(src: string): Template {
  const root: Node[] = [];
  // Each open block: the node and which of its lists is being filled.
  const stack: Array<{ node: Extract<Node, { then: Node[] }>; into: Node[] }> = [];
  const current = () => stack[stack.length - 1]?.into ?? root;
  for (const part of scan(src)) {
    if ('text' in part) {
      current().push({ kind: 'text', text: part.text });
      continue;
    }
    const action = part.action;
    if (action.startsWith('/*')) {
      if (!action.endsWith('*/')) throw new TemplateError('unclosed comment');
      continue;
    }
    const toks = lex(action);
    const p = new Parser(toks, action);
    const word = toks[0]?.kind === 'ident' ? toks[0].text : '';
    const pipeOf = (allowDecl: number) => {
      p.pos = 1;
      const pipe = p.pipe(allowDecl);
      if (!p.done()) throw new TemplateError(`unexpected "${toks[p.pos]!.text}" in {{${action}}}`);
      return pipe;
    };
    if (word === 'if' || word === 'with' || word === 'range') {
      const node = { kind: word, pipe: pipeOf(word === 'range' ? 2 : 1), then: [], else: [] } as Extract<Node, { then: Node[] }>;
      current().push(node);
      stack.push({ node, into: node.then });
    } else if (word === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.into === top.node.else) throw new TemplateError('unexpected {{else}}');
      if (toks[1]?.kind === 'ident' && (toks[1].text === 'if' || toks[1].text === 'with')) {
        // `else if X` is `else` holding an `if X` that closes with the same {{end}}
        p.pos = 2;
        const pipe = p.pipe(1);
        const inner = { kind: toks[1].text, pipe, then: [], else: [] } as Extract<Node, { then: Node[] }>;
        top.node.else.push(inner);
        // the inner `if` takes the outer's place: one {{end}} closes both
        stack[stack.length - 1] = { node: inner, into: inner.then };
      } else {
        if (toks.length > 1) throw new TemplateError(`unexpected "${toks[1]!.text}" in {{else}}`);
        top.into = top.node.else;
      }
    } else if (word === 'end') {
      if (toks.length > 1) throw new TemplateError(`unexpected "${toks[1]!.text}" in {{end}}`);
      const top = stack.pop();
      if (!top) throw new TemplateError('unexpected {{end}}');
    } else if (['define', 'template', 'block', 'break', 'continue'].includes(word)) {
      throw new TemplateError(`{{${word}}} is not supported`);
    } else {
      p.pos = 0;
      const pipe = p.pipe(1);
      if (!p.done()) throw new TemplateError(`unexpected "${toks[p.pos]!.text}" in {{${action}}}`);
      current().push({ kind: 'action', pipe });
    }
  }
  if (stack.length > 0) throw new TemplateError(`unexpected EOF: {{${stack[stack.length - 1]!.node.kind}}} without {{end}}`);
  return {
    execute(data, opts = {}) {
      return new Exec(opts.header === true).nodes(root, data, [{ $: data }]);
    },
  };
}

type Scope = Array<Record<string, unknown>>;

class Exec {
  constructor(private readonly header: boolean) {}

  nodes(nodes: Node[], dot: unknown, scope: Scope): string {
    let out = '';
    for (const n of nodes) out += this.node(n, dot, scope);
    return out;
  }

  private node(n: Node, dot: unknown, scope: Scope): string {
    switch (n.kind) {
      case 'text':
        return n.text;
      case 'action': {
        const v = this.pipe(n.pipe, dot, scope);
        if (n.pipe.decl.length > 0) return '';
        return v === undefined || v === null ? '<no value>' : goString(v);
      }
      case 'if':
      case 'with': {
        const inner: Scope = [...scope, {}];
        const v = this.pipe(n.pipe, dot, inner);
        if (truthy(v)) return this.nodes(n.then, n.kind === 'with' ? v : dot, inner);
        return this.nodes(n.else, dot, inner);
      }
      case 'range': {
        const v = this.pipe({ ...n.pipe, decl: [] }, dot, scope);
        const entries: Array<[unknown, unknown]> =
          Array.isArray(v) ? v.map((x, i) => [i, x])
          : v !== null && typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
          : typeof v === 'number' ? Array.from({ length: v }, (_, i) => [i, i])
          : v === null || v === undefined ? []
          : fail(`range can't iterate over ${goString(v)}`);
        if (entries.length === 0) return this.nodes(n.else, dot, scope);
        let out = '';
        for (const [k, x] of entries) {
          const vars: Record<string, unknown> = {};
          const [a, b] = n.pipe.decl;
          if (b !== undefined) {
            vars[a!] = k;
            vars[b] = x;
          } else if (a !== undefined) vars[a] = x;
          out += this.nodes(n.then, x, [...scope, vars]);
        }
        return out;
      }
    }
  }

  private pipe(p: Pipe, dot: unknown, scope: Scope): unknown {
    let v: unknown = undefined;
    p.cmds.forEach((cmd, i) => {
      v = this.cmd(cmd, dot, scope, i === 0 ? [] : [v]);
    });
    for (const name of p.decl) scope[scope.length - 1]![name] = v;
    return v;
  }

  private cmd(cmd: Arg[], dot: unknown, scope: Scope, piped: unknown[]): unknown {
    const [first, ...rest] = cmd;
    if (first!.kind === 'fn') {
      const name = first!.name;
      if (LAZY.has(name)) {
        const args = [...rest.map((a) => () => this.arg(a, dot, scope)), ...piped.map((x) => () => x)];
        let last: unknown;
        for (const a of args) {
          last = a();
          if (truthy(last) === (name === 'or')) return last;
        }
        return last;
      }
      const args = [...rest.map((a) => this.arg(a, dot, scope)), ...piped];
      const fn = (this.header ? HEADER_FUNCS : FUNCS)[name]!;
      return fn(...args);
    }
    if (rest.length > 0 || piped.length > 0) throw new TemplateError(`can't give argument to non-function ${describe(first!)}`);
    return this.arg(first!, dot, scope);
  }

  private arg(a: Arg, dot: unknown, scope: Scope): unknown {
    switch (a.kind) {
      case 'literal':
        return a.value;
      case 'pipe':
        return this.pipe(a.pipe, dot, [...scope, {}]);
      case 'fn':
        return this.cmd([a], dot, scope, []);
      case 'field': {
        let v = dot;
        if (a.base !== null) {
          const holder = [...scope].reverse().find((s) => a.base! in s);
          if (!holder) throw new TemplateError(`undefined variable "${a.base}"`);
          v = holder[a.base];
        }
        for (const [i, name] of a.path.entries()) {
          if (v === null || v === undefined) return undefined;
          if (typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, name)) {
            if (this.header) return '';
            const at = a.base === null ? '.' + a.path.slice(0, i + 1).join('.') : [a.base, ...a.path.slice(0, i + 1)].join('.');
            const known = v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).sort() : [];
            throw new TemplateError(
              `at <${at}>: can't evaluate field ${name}` + (known.length ? ` (fields: ${known.join(', ')})` : ` in type ${goType(v)}`),
            );
          }
          v = (v as Record<string, unknown>)[name];
        }
        return v;
      }
    }
  }
}

/** A Go "quoted" string: JSON's escapes, and Go's \xNN and \a \v. */
function unquote(text: string): string {
  const json = text.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b');
  try {
    return JSON.parse(json) as string;
  } catch {
    throw new TemplateError(`bad string literal ${text}`);
  }
}

function describe(a: Arg): string {
  return a.kind === 'field' ? a.text : a.kind === 'literal' ? JSON.stringify(a.value) : a.kind === 'fn' ? a.name : '(…)';
}

function fail(message: string): never {
  throw new TemplateError(message);
}
