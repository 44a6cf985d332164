/**
 * The files of an image archive, whatever it came as: a directory (an OCI
 * layout or an unpacked docker save) or a tar file, possibly compressed. A tar
 * is read once and its files spooled into the import's staging dir, so that
 * every file then has an opener that can be called more than once.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { BadArchiveError } from '../errors.js';
import { decompress } from './decompress.js';
import { asArchiveError, feed, safeName } from './unpack.js';

/** Largest manifest, config or index we parse. */
export const MAX_JSON = 16 * 2 ** 20;

export interface ArchiveFiles {
  /** The input path, for errors. */
  readonly source: string;
  has(name: string): boolean;
  names(): string[];
  size(name: string): number;
  open(name: string): Readable;
}

class Files implements ArchiveFiles {
  constructor(
    readonly source: string,
    private readonly files: Map<string, { path: string; size: number }>,
    private readonly links: Map<string, string> = new Map(),
  ) {}

  private find(name: string): { path: string; size: number } | undefined {
    let n = safeName(this.source, name, 'file');
    for (let hops = 0; hops < 16 && !this.files.has(n); hops++) {
      const to = this.links.get(n);
      if (to === undefined) break;
      n = to;
    }
    return this.files.get(n);
  }
  has(name: string): boolean {
    return this.find(name) !== undefined;
  }
  names(): string[] {
    return [...this.files.keys(), ...this.links.keys()].sort();
  }
  size(name: string): number {
    return this.find(name)?.size ?? 0;
  }
  open(name: string): Readable {
    const f = this.find(name);
    if (!f) throw new BadArchiveError(this.source, 'file is missing', name);
    return createReadStream(f.path);
  }
}

/** Reads a whole small file (a manifest or config) and parses it. */
export async function readJson<T>(files: ArchiveFiles, name: string): Promise<{ value: T; bytes: Buffer }> {
  const bytes = await readSmall(files, name);
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as T, bytes };
  } catch (err) {
    throw new BadArchiveError(files.source, `not valid JSON: ${(err as Error).message}`, name);
  }
}

export async function readSmall(files: ArchiveFiles, name: string): Promise<Buffer> {
  if (!files.has(name)) throw new BadArchiveError(files.source, 'file is missing', name);
  if (files.size(name) > MAX_JSON) throw new BadArchiveError(files.source, `larger than ${MAX_JSON} bytes`, name);
  const chunks: Buffer[] = [];
  for await (const c of files.open(name)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function fromDir(dir: string): Promise<ArchiveFiles> {
  const files = new Map<string, { path: string; size: number }>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = await stat(join(dir, r)).catch(() => null); // follows links: the directory is the user's own
      if (st?.isDirectory()) await walk(r);
      else if (st?.isFile()) files.set(r, { path: join(dir, r), size: st.size });
    }
  };
  await walk('');
  return new Files(dir, files);
}

async function fromTar(file: string, spool: string): Promise<ArchiveFiles> {
  const files = new Map<string, { path: string; size: number }>();
  const links = new Map<string, string>();
  const ex = tar.extract();
  const src = createReadStream(file);
  const feeding = feed(decompress(src as AsyncIterable<Buffer>), ex).catch((err: unknown) => {
    ex.destroy(err as Error);
  });
  let n = 0;
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const name = safeName(file, h.name);
      if (h.type === 'file' || h.type === 'contiguous-file') {
        const path = join(spool, `f${n++}`);
        const out = createWriteStream(path);
        for await (const c of entry as unknown as AsyncIterable<Buffer>) if (!out.write(c)) await once(out, 'drain');
        out.end();
        await once(out, 'close');
        files.set(name, { path, size: h.size });
      } else if (h.type === 'symlink' || h.type === 'link') {
        // old docker save links duplicate layers: <id>/layer.tar -> ../<other>/layer.tar
        const target = h.type === 'link' ? h.linkname : posix.join(posix.dirname(name), h.linkname);
        links.set(name, safeName(file, target, 'link target'));
        entry.resume();
      } else entry.resume();
    }
    await feeding;
  } catch (err) {
    ex.destroy(null as unknown as Error);
    src.destroy();
    throw asArchiveError(err, file);
  }
  return new Files(file, files, links);
}

/** The files of an archive at `path` (a directory or a possibly compressed tar). */
export async function openArchive(path: string, spool: string): Promise<ArchiveFiles> {
  const st = await lstat(path).catch(() => null);
  if (st === null) throw new BadArchiveError(path, 'no such file or directory');
  if ((await stat(path)).isDirectory()) return fromDir(path);
  return fromTar(path, spool);
}
