/**
 * Where COPY and ADD take files from: the build context (with its
 * `.dockerignore`) or an earlier stage's or an image's root filesystem
 * (`COPY --from`). Resolves the sources an instruction names (globs
 * included), refuses any that lead outside the root, and digests them
 * (names, types, modes, owners, link targets and data) for the build cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join, posix, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Stats } from 'node:fs';
import { DockerfileError } from '../errors.js';
import { DockerIgnore, globRegex } from './dockerignore.js';
import { scopedPath } from '../runtime/rootfs-paths.js';

export interface Source {
  /** Host path of what is copied (a top-level symlink already followed). */
  abs: string;
  /** Its path in the root, `/`-separated, '' for the root itself. */
  rel: string;
  stat: Stats;
}

const hasGlob = (p: string) => /[*?[]/.test(p);

export class SourceRoot {
  constructor(
    readonly dir: string,
    /** `build context` or `stage NAME` / `image REF`: names the root in errors. */
    readonly what: string,
    private readonly ignore: DockerIgnore | null = null,
    /** The context refuses symlinks that lead out; an image's absolute links are read inside it. */
    private readonly scoped = false,
  ) {}

  private excluded(rel: string): boolean {
    return rel !== '' && this.ignore !== null && this.ignore.excludes(rel);
  }

  /** Resolves the sources of one COPY/ADD; `instr` names it in errors. */
  async resolve(patterns: string[], instr: string): Promise<Source[]> {
    const out: Source[] = [];
    for (const p of patterns) {
      const rel = posix.normalize(p.replace(/^\/+/, '')).replace(/\/+$/, '');
      if (rel === '..' || rel.startsWith('../')) throw new DockerfileError(`${instr}: ${p}: forbidden path outside the ${this.what}`);
      const clean = rel === '.' ? '' : rel;
      if (hasGlob(clean)) {
        const re = globRegex(clean);
        const hits: Source[] = [];
        for await (const e of this.walk('', clean.split('/').length)) if (re.test(e.rel)) hits.push(await this.one(e.rel, p, instr));
        if (hits.length === 0) throw new DockerfileError(`${instr}: no source files were specified: nothing in the ${this.what} matches ${p}`);
        out.push(...hits);
      } else {
        out.push(await this.one(clean, p, instr));
      }
    }
    return out;
  }

  private async one(rel: string, asWritten: string, instr: string): Promise<Source> {
    const notFound = () => new DockerfileError(`${instr}: ${asWritten}: not found in the ${this.what}${this.ignore?.empty === false ? ' or excluded by .dockerignore' : ''}`);
    if (this.excluded(rel)) throw notFound();
    let abs: string;
    if (this.scoped) abs = await scopedPath(this.dir, rel);
    else {
      const top = await realpath(this.dir);
      abs = await realpath(join(this.dir, rel)).catch(() => {
        throw notFound();
      });
      if (abs !== top && !abs.startsWith(top + sep)) {
        throw new DockerfileError(`${instr}: ${asWritten}: forbidden path outside the ${this.what} (a symlink to ${abs})`);
      }
    }
    const st = await stat(abs).catch(() => {
      throw notFound();
    });
    return { abs, rel, stat: st };
  }

  /** Entries under `rel` (not itself), parents first, sorted, skipping what .dockerignore excludes; `depth` limits the walk. */
  async *walk(rel: string, depth = Infinity, abs = join(this.dir, rel)): AsyncGenerator<{ rel: string; abs: string; stat: Stats }> {
    if (depth <= 0) return;
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childAbs = join(abs, name);
      const st = await lstat(childAbs);
      // An excluded directory still comes when a `!` pattern brings back something under it.
      const skip = this.excluded(childRel) && !(st.isDirectory() && this.ignore!.mayReinclude(childRel) && (await this.anyIncluded(childRel, childAbs)));
      if (skip) continue;
      yield { rel: childRel, abs: childAbs, stat: st };
      if (st.isDirectory()) yield* this.walk(childRel, depth - 1, childAbs);
    }
  }

  private async anyIncluded(rel: string, abs: string): Promise<boolean> {
    for await (const _ of this.walk(rel, Infinity, abs)) return true;
    return false;
  }

  /** Whether `rel` is copied (not excluded by .dockerignore). */
  includes(rel: string): boolean {
    return !this.excluded(rel);
  }

  /** The cache digest of `sources`: `file:`, `dir:` or `multi:` and a sha256, as Docker's classic builder names them. */
  async digest(sources: Source[]): Promise<string> {
    const h = createHash('sha256');
    const entry = async (name: string, abs: string, st: Stats) => {
      const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
      h.update(`${name}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.uid}\0${st.gid}\0${type === 'f' ? st.size : 0}\0`);
      if (type === 'l') h.update(await readlink(abs));
      if (type === 'f' && st.size < 1 << 20) h.update(await readFile(abs));
      else if (type === 'f') await pipeline(createReadStream(abs), async (chunks: AsyncIterable<Buffer>) => {
        for await (const c of chunks) h.update(c);
      });
      h.update('\n');
    };
    for (const s of sources) {
      await entry(s.rel, s.abs, s.stat);
      if (s.stat.isDirectory()) for await (const e of this.walk(s.rel, Infinity, s.abs)) await entry(e.rel, e.abs, e.stat);
    }
    const kind = sources.length > 1 ? 'multi' : sources[0]!.stat.isDirectory() ? 'dir' : 'file';
    return `${kind}:${h.digest('hex')}`;
  }
}
