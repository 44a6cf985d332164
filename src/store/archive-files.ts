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
import type { SpaceBudget } from './disk-space.js';

/** Largest manifest, config or index we parse. */
export const MAX_JSON = 16 * 2 ** 20;

export interface ArchiveFiles {
  /** The input path, for errors. */
  readonly source: string;
  /** A directory, or an archive file read into the spool. */
  readonly kind: 'dir' | 'archive';
  has(name: string): boolean;
  names(): string[];
  size(name: string): number;
  open(name: string): Readable;
}

class Files implements ArchiveFiles {
  constructor(
    readonly source: string,
    readonly kind: 'dir' | 'archive',
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

/** Bounds on a layout directory's walk: no image layout comes near them. */
const MAX_DEPTH = 16;
const MAX_FILES = 1_000_000;

/**
 * A layout directory's files. Links are followed (the directory is the
 * user's own), but a directory reached twice (a symlink loop, or a link to
 * a directory seen before) is refused at once, as are absurd depths and
 * counts: an unbounded walk once ran 22 s through a loop before the kernel's ELOOP.
 */
async function fromDir(dir: string): Promise<ArchiveFiles> {
  const files = new Map<string, { path: string; size: number }>();
  const seen = new Set<string>();
  const walk = async (rel: string, depth: number): Promise<void> => {
    const here = await stat(join(dir, rel));
    const key = `${here.dev}:${here.ino}`;
    if (seen.has(key)) throw new BadArchiveError(dir, `directory loop (ELOOP): '${rel}' is a directory already walked`, rel);
    seen.add(key);
    if (depth > MAX_DEPTH) throw new BadArchiveError(dir, `directories nested deeper than ${MAX_DEPTH}`, rel);
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const st = await stat(join(dir, r)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ELOOP') throw new BadArchiveError(dir, 'symlink loop (ELOOP)', r);
        return null; // a dangling link: not a file of the layout
      });
      if (st?.isDirectory()) await walk(r, depth + 1);
      else if (st?.isFile()) files.set(r, { path: join(dir, r), size: st.size });
      if (files.size > MAX_FILES) throw new BadArchiveError(dir, `more than ${MAX_FILES} files`);
    }
  };
  await walk('', 0);
  return new Files(dir, 'dir', files);
}

/**
 * The names an image archive's first entry can have: docker save's
 * `<id>/…`, `<id>.json`, `manifest.json` and `repositories`, skopeo's and
 * podman's `<hex>.tar`, an OCI layout's `oci-layout`, `index.json` and `blobs/…`.
 */
const ARCHIVE_NAME = /^(?:oci-layout|index\.json|manifest\.json|repositories|blobs(?:\/.*)?|[0-9a-f]{64}(?:\.json|\.tar|\/.*)?)$/;

async function fromTar(file: string, spool: string, space?: SpaceBudget): Promise<ArchiveFiles> {
  const files = new Map<string, { path: string; size: number }>();
  const links = new Map<string, string>();
  const ex = tar.extract();
  const src = createReadStream(file);
  const feeding = feed(decompress(src as AsyncIterable<Buffer>), ex).catch((err: unknown) => {
    ex.destroy(err as Error);
  });
  let n = 0;
  let first = true;
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const name = safeName(file, h.name);
      // Known from the first entry, before anything is written: a rootfs tarball is refused here, not after spooling all of it.
      if (first && name !== '') {
        if (!ARCHIVE_NAME.test(name)) {
          throw new BadArchiveError(file, `not an image archive: its first entry '${h.name}' belongs to neither a docker save archive nor an OCI layout`);
        }
        first = false;
      }
      if (h.type === 'file' || h.type === 'contiguous-file') {
        await space?.need(h.size ?? 0, `${file}: entry '${h.name}'`);
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
  return new Files(file, 'archive', files, links);
}

/** The files of an archive at `path` (a directory or a possibly compressed tar). */
export async function openArchive(path: string, spool: string, space?: SpaceBudget): Promise<ArchiveFiles> {
  const st = await lstat(path).catch(() => null);
  if (st === null) throw new BadArchiveError(path, 'no such file or directory');
  if ((await stat(path)).isDirectory()) return fromDir(path);
  return fromTar(path, spool, space);
}
