/**
 * The Dockerfile parser: parser directives (`# escape=`), comments, line
 * continuations, `--flag=value` options, JSON (exec) and shell forms, and the
 * split into build stages. Everything that can be checked before a build
 * runs is checked here, and each error names the file and the line.
 * Variables are substituted later, per step (words.ts), as Docker does.
 */
import { DockerfileError } from '../errors.js';
import { parseHealthcheck } from './healthcheck.js';
import { splitRaw } from './words.js';

export const KEYWORDS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;
export type Keyword = (typeof KEYWORDS)[number];

export interface Instruction {
  keyword: Keyword;
  /** 1-based line where the instruction starts. */
  line: number;
  /** `--name=value` options (a bare `--name` is ''). */
  flags: Record<string, string>;
  /** The arguments after the flags, as written (continuations joined). */
  args: string;
  /** The exec form, when the arguments are a JSON array of strings. */
  json?: string[];
  /** The instruction as written (continuations joined): what Docker's `Step N/M :` line shows. */
  source: string;
}

export interface Stage {
  index: number;
  /** `FROM image AS name`, lower-cased. */
  name?: string;
  from: Instruction;
  /** The stage's image, unexpanded (`FROM` may use global ARGs). */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  /** ARGs before the first FROM: they may be used in FROM lines. */
  globalArgs: Instruction[];
  stages: Stage[];
}

const FLAGS: Partial<Record<Keyword, string[]>> = {
  FROM: ['platform'], COPY: ['from', 'chown', 'chmod'], ADD: ['chown', 'chmod', 'checksum'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};
const JSON_FORMS = new Set<Keyword>(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME']);
const NOT_SUPPORTED: Record<string, string> = {
};
const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;

interface Line { text: string; line: number }

/** Joins continuation lines and drops comments and blank lines; reads the directives on top. */
function logicalLines(text: string, file: string): { escape: string; lines: Line[] } {
  const raw = text.replace(/\r\n?/g, '\n').split('\n');
  let escape = '\\';
  let i = 0;
  // Directives: `# key=value` lines at the very top; the first other line ends them.
  for (; i < raw.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(raw[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw new DockerfileError(`invalid escape character '${m[2]}': it must be \\ or \``, { file, line: i + 1 });
      escape = m[2];
    } else if (key !== 'syntax' && key !== 'check') break;
  }
  const lines: Line[] = [];
  let cur: Line | null = null;
  const cont = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  for (; i < raw.length; i++) {
    const l = raw[i]!;
    if (/^\s*#/.test(l) || (cur !== null && l.trim() === '')) continue;
    if (cur === null && l.trim() === '') continue;
    const more = cont.test(l);
    const part = more ? l.replace(cont, '') : l;
    if (cur === null) cur = { text: part.replace(/^\s+/, ''), line: i + 1 };
    else cur.text += part;
    if (!more) {
      lines.push(cur);
      cur = null;
    }
  }
  if (cur !== null && cur.text.trim() !== '') lines.push(cur);
  return { escape, lines };
}

/** HEALTHCHECK's type word (CMD or NONE), and the command after it: its exec form when JSON, and as written. */
export function healthcheckParts(args: string): { type: string; json?: string[]; line: string } {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(args)!;
  const json = parseJson(m[2]!);
  return { type: m[1]!, line: m[2]!, ...(json ? { json } : {}) };
}

function parseJson(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** Parses one instruction line; `file` and `line` name it in errors. */
export function parseInstruction(text: string, file: string, line: number, escape = '\\'): Instruction {
  const where = { file, line };
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  if (!m) throw new DockerfileError('empty instruction', where);
  const upper = m[1]!.toUpperCase();
  if (NOT_SUPPORTED[upper]) throw new DockerfileError(NOT_SUPPORTED[upper]!, where);
  if (!(KEYWORDS as readonly string[]).includes(upper)) throw new DockerfileError(`unknown instruction: ${m[1]}`, where);
  const keyword = upper as Keyword;
  let rest = m[2]!.trim();

  const flags: Record<string, string> = {};
  for (;;) {
    const f = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (!f) break;
    if (!(FLAGS[keyword] ?? []).includes(f[1]!)) throw new DockerfileError(`${keyword} does not take the flag --${f[1]}`, where);
    if (f[2] === undefined || f[2] === '') throw new DockerfileError(`${keyword} --${f[1]} needs a value (--${f[1]}=VALUE)`, where);
    flags[f[1]!] = f[2];
    rest = rest.slice(f[0].length);
  }

  const json = JSON_FORMS.has(keyword) ? parseJson(rest) : undefined;
  const instr: Instruction = { keyword, line, flags, args: rest, ...(json ? { json } : {}), source: text.trim() };
  const words = () => splitRaw(rest, escape);
  const need = (ok: boolean, reason: string) => {
    if (!ok) throw new DockerfileError(`${keyword} ${reason}`, where);
  };
  switch (keyword) {
    case 'FROM': {
      const w = words();
      need(w.length === 1 || (w.length === 3 && w[1]!.toUpperCase() === 'AS'), 'takes an image, optionally followed by AS NAME');
      if (w.length === 3) need(STAGE_NAME.test(w[2]!.toLowerCase()), `stage name '${w[2]}' must start with a letter and hold only letters, digits, '_', '.' and '-'`);
      break;
    }
    case 'ARG': {
      const w = words();
      need(w.length > 0, 'takes NAME or NAME=default (several may follow)');
      for (const a of w) need(/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.split('=')[0]!), `name '${a.split('=')[0]}' is not a valid variable name`);
      break;
    }
    case 'ENV':
    case 'LABEL': {
      const w = words();
      need(w.length > 0, 'needs at least one KEY=VALUE');
      if (!w[0]!.includes('=')) need(w.length >= 2, `needs a value for '${w[0]}' (KEY=VALUE)`);
      else for (const p of w) need(p.includes('=') && !p.startsWith('='), `'${p}' is not KEY=VALUE`);
      break;
    }
    case 'SHELL':
      need(json !== undefined && json.length > 0, 'needs a JSON array, e.g. SHELL ["/bin/sh", "-c"]');
      break;
    case 'ONBUILD': {
      need(rest !== '', 'needs an instruction');
      const inner = /^\S+/.exec(rest)![0].toUpperCase();
      if (inner === 'ONBUILD') throw new DockerfileError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", where);
      if (inner === 'FROM' || inner === 'MAINTAINER') throw new DockerfileError(`${inner} isn't allowed as an ONBUILD trigger`, where);
      parseInstruction(rest, file, line, escape);
      break;
    }
    case 'HEALTHCHECK': {
      need(rest !== '', 'needs CMD command or NONE');
      const p = healthcheckParts(rest);
      try {
        parseHealthcheck(flags, p.type, p.json, p.line);
      } catch (err) {
        throw err instanceof DockerfileError ? new DockerfileError(err.reason, where) : err;
      }
      break;
    }
    case 'COPY':
    case 'ADD':
      need((json ?? words()).length >= 2, 'needs at least one source and a destination');
      break;
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
      need(json !== undefined || rest !== '', 'needs a command');
      break;
    case 'USER':
    case 'STOPSIGNAL':
      need(words().length === 1, 'takes exactly one argument');
      break;
    default:
      need(rest !== '', 'needs an argument');
  }
  return instr;
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const { escape, lines } = logicalLines(text, file);
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const l of lines) {
    const instr = parseInstruction(l.text, file, l.line, escape);
    if (instr.keyword === 'FROM') {
      const w = splitRaw(instr.args, escape);
      const name = w[2]?.toLowerCase();
      if (name !== undefined && stages.some((s) => s.name === name)) throw new DockerfileError(`FROM: a stage named '${name}' already exists`, { file, line: l.line });
      stages.push({ index: stages.length, ...(name ? { name } : {}), from: instr, base: w[0]!, instructions: [] });
    } else if (stages.length === 0) {
      if (instr.keyword !== 'ARG') throw new DockerfileError(`${instr.keyword} before FROM: only ARG may come before the first FROM`, { file, line: l.line });
      globalArgs.push(instr);
    } else {
      stages.at(-1)!.instructions.push(instr);
    }
  }
  if (stages.length === 0) throw new DockerfileError('no FROM instruction', { file, line: lines.at(-1)?.line ?? 1 });
  return { file, escape, globalArgs, stages };
}
