/**
 * `.dockerignore` as Docker reads it (moby/patternmatcher): one pattern a
 * line, `#` comments, Go `filepath.Match` syntax plus `**` for any number of
 * directories, leading `/` and `./` ignored, evaluated in order so a later
 * `!pattern` re-includes what an earlier one excluded. A pattern that matches
 * a directory excludes everything under it.
 */
import { posix } from 'node:path';

interface Pattern { regex: RegExp; exclusion: boolean; text: string }

/** A Go filepath.Match pattern (with `**`) as an anchored RegExp over `/`-separated paths. */
export function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\(.)/g, '\\$1')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export class DockerIgnore {
  private readonly patterns: Pattern[];

  constructor(text: string) {
    this.patterns = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .flatMap((l) => {
        const exclusion = l.startsWith('!');
        let p = posix.normalize((exclusion ? l.slice(1) : l).trim()).replace(/^\/+/, '');
        if (p === '.' || p === '') return [];
        p = p.replace(/\/+$/, '');
        return [{ regex: globRegex(p), exclusion, text: l }];
      });
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether `rel` (a context path, `/`-separated, no leading `/`) is left out of the context. */
  excludes(rel: string): boolean {
    const parents: string[] = [];
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      if (p.regex.test(rel) || parents.some((d) => p.regex.test(d))) matched = !p.exclusion;
    }
    return matched;
  }

  /** Whether some `!` pattern could re-include something under the excluded directory `rel`. */
  mayReinclude(rel: string): boolean {
    return this.patterns.some((p) => p.exclusion && (p.text.includes('*') || p.text.slice(1).replace(/^\/+/, '').startsWith(`${rel}/`)));
  }
}
