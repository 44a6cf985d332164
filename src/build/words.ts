/**
 * Dockerfile words as Docker's shell lexer reads them: whitespace splits
 * words outside quotes; single quotes keep everything; double quotes keep
 * whitespace but expand variables; the escape character (`\` or the
 * `# escape=` one) takes the next character literally. Variables: `$NAME`,
 * `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`.
 */
import { DockerfileError } from '../errors.js';

export type Lookup = (name: string) => string | undefined;

const NAME_CHAR = /[A-Za-z0-9_]/;

/** Splits on whitespace outside quotes, keeping quotes and escapes for `expand`. */
export function splitRaw(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  let cur = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === '' && /\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && quote !== "'" && i + 1 < text.length) {
      cur += c + text[++i]!;
      continue;
    }
    if (quote === '' && (c === '"' || c === "'")) quote = c;
    else if (c === quote) quote = '';
    cur += c;
  }
  if (inWord) words.push(cur);
  return words;
}

/** Removes quotes and escapes and substitutes variables in one word. */
export function expand(word: string, lookup: Lookup, escape = '\\'): string {
  let i = 0;
  const fail = (reason: string): never => {
    throw new DockerfileError(`${reason} in '${word}'`);
  };

  const variable = (): string => {
    // at '$'
    i++;
    const c = word[i];
    if (c === '{') {
      i++;
      let name = '';
      while (i < word.length && NAME_CHAR.test(word[i]!)) name += word[i++]!;
      if (name === '') fail('bad substitution: missing variable name');
      if (word[i] === '}') {
        i++;
        return lookup(name) ?? '';
      }
      if (i >= word.length) fail("missing '}'");
      let op = word[i]!;
      if (op === ':') op += word[++i] ?? '';
      if (!['-', '+', ':-', ':+'].includes(op)) fail(`unsupported modifier '${op}'`);
      i++;
      const alt = until('}');
      const value = lookup(name);
      const set = op.startsWith(':') ? value !== undefined && value !== '' : value !== undefined;
      return op.endsWith('-') ? (set ? value! : alt) : set ? alt : '';
    }
    let name = '';
    while (i < word.length && NAME_CHAR.test(word[i]!)) name += word[i++]!;
    return name === '' ? '$' : (lookup(name) ?? '');
  };

  // Reads up to the closing `stop` (outside quotes), expanding as it goes.
  const until = (stop: string): string => {
    let out = '';
    let quote = '';
    while (i < word.length) {
      const c = word[i]!;
      if (quote === '' && c === stop) {
        i++;
        return out;
      }
      if (quote === "'") {
        if (c === "'") quote = '';
        else out += c;
        i++;
      } else if (c === escape && i + 1 < word.length) {
        const next = word[i + 1]!;
        // Inside double quotes the escape only escapes what is special there.
        if (quote === '"' && !['"', '$', escape].includes(next)) out += c;
        out += next;
        i += 2;
      } else if (c === '$') {
        out += variable();
      } else if (quote === '' && (c === '"' || c === "'")) {
        quote = c;
        i++;
      } else if (quote === '"' && c === '"') {
        quote = '';
        i++;
      } else {
        out += c;
        i++;
      }
    }
    if (quote !== '') fail(`unterminated ${quote === '"' ? 'double' : 'single'} quote`);
    if (stop !== '') fail("missing '}'");
    return out;
  };

  return until('');
}

/** Splits, then expands each word; a word that expands to nothing without quotes is dropped, as the shell does. */
export function expandWords(text: string, lookup: Lookup, escape = '\\'): string[] {
  return splitRaw(text, escape).flatMap((w) => {
    const out = expand(w, lookup, escape);
    return out === '' && !/["']/.test(w) ? [] : [out];
  });
}

/** `K=V` entries (an image's Env) as a lookup; later entries win. */
export function envLookup(...lists: Array<string[] | Map<string, string | undefined>>): Lookup {
  const vars = new Map<string, string>();
  for (const list of lists) {
    if (list instanceof Map) {
      for (const [k, v] of list) if (v !== undefined) vars.set(k, v);
    } else {
      for (const e of list) {
        const eq = e.indexOf('=');
        if (eq > 0) vars.set(e.slice(0, eq), e.slice(eq + 1));
      }
    }
  }
  return (name) => vars.get(name);
}
