/**
 * Unpacks one untrusted layer tar into a directory that kernel overlayfs and
 * the layerfs overlay can use as a lowerdir.
 *
 * Safety rests on three rules: entry names are normalised and refused when
 * absolute or containing `..`; every parent directory on the way is checked
 * with lstat and must be a real directory (a symlink parent is refused), so
 * nothing is ever resolved through a link; and files are created with
 * O_EXCL|O_NOFOLLOW after removing whatever was there, so a later entry never
 * writes through an earlier symlink.
 *
 * OCI whiteouts become kernel-format ones: `.wh.NAME` a char device 0:0,
 * `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory.
 * Directory modes and times are applied last, deepest first, because creating
 * children changes them.
 */
import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, open, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { BadArchiveError, LayerfsError, UnsafePathError } from '../errors.js';
import { mkWhiteout, mknod, S_IFBLK, S_IFCHR, S_IFIFO, setxattr, utimens } from '../sys.js';
import { PaxTap } from './pax.js';
import { parseBytes, SpaceBudget } from './disk-space.js';
import { writeSparse } from './sparse.js';

/**
 * Limits a caller may set. Without them a file or a layer may be as large as
 * the free space on the target's filesystem above its reserve allows (see
 * disk-space.ts), and no larger: a 1 MB gzip can declare a 1 TiB file.
 */
export interface UnpackLimits {
  /** Largest single file. */
  maxEntrySize: number;
  /** Sum of all file sizes. */
  maxTotalSize: number;
  maxEntries: number;
}

export const DEFAULT_LIMITS: Pick<UnpackLimits, 'maxEntries'> = {
  maxEntries: 4_000_000,
};

/** The limits a user sets for every import: LAYERFS_MAX_FILE_SIZE and LAYERFS_MAX_LAYER_SIZE (bytes, or 512M, 2G…). */
export function limitsFromEnv(env = process.env): Partial<UnpackLimits> {
  const out: Partial<UnpackLimits> = {};
  if (env.LAYERFS_MAX_FILE_SIZE) out.maxEntrySize = parseBytes(env.LAYERFS_MAX_FILE_SIZE);
  if (env.LAYERFS_MAX_LAYER_SIZE) out.maxTotalSize = parseBytes(env.LAYERFS_MAX_LAYER_SIZE);
  return out;
}

export interface UnpackOptions {
  /** Names the archive in errors. */
  source: string;
  /** Create device files; defaults to "running as root". */
  devices?: boolean;
  limits?: Partial<UnpackLimits>;
  /** The space an import may spend (shared by its layers); by default, the target filesystem's. */
  space?: SpaceBudget;
}

export interface UnpackResult {
  /** Bytes of file content. */
  unpackedSize: number;
  entries: number;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** A relative, normalised path for an entry name; throws when it could leave the layer. */
export function safeName(source: string, name: string, what = 'entry', entry = name): string {
  if (name.includes('\0')) throw new UnsafePathError(source, entry, `${what} name contains NUL`);
  if (name.startsWith('/')) throw new UnsafePathError(source, entry, `${what} is an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafePathError(source, entry, `${what} contains '..'`);
  return parts.join('/');
}

interface Times {
  asec: number;
  ansec: number;
  msec: number;
  mnsec: number;
}

/** PAX times are decimal seconds with up to 9 fraction digits; the ustar field has whole seconds. */
function paxTime(value: string | undefined): [number, number] | null {
  const m = value === undefined ? null : /^(-?\d+)(?:\.(\d{1,9})\d*)?$/.exec(value);
  if (!m) return null;
  return [Number(m[1]), Number((m[2] ?? '').padEnd(9, '0'))];
}

function timesOf(h: tar.Header): Times {
  const pax = (h.pax ?? {}) as Record<string, string>;
  const m = paxTime(pax.mtime) ?? [Math.floor((h.mtime?.getTime() ?? 0) / 1000), 0];
  const a = paxTime(pax.atime) ?? m;
  return { asec: a[0], ansec: a[1], msec: m[0], mnsec: m[1] };
}

const intOr = (v: string | undefined, d: number | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : d ?? 0);

class Unpacker {
  private readonly limits: Partial<UnpackLimits> & typeof DEFAULT_LIMITS;
  private readonly devices: boolean;
  /** Directories (relative) known to be real directories we may descend into. */
  private readonly dirs = new Set<string>(['']);
  /** Modes and times of directory entries, applied once every entry exists. */
  private readonly dirMeta = new Map<string, { mode: number; times: Times }>();
  unpackedSize = 0;
  entries = 0;
  /** Sees the tar bytes too: the entries' xattrs as exact bytes (see pax.ts). */
  readonly pax = new PaxTap();

  constructor(
    private readonly root: string,
    private readonly opts: UnpackOptions,
    private readonly space: SpaceBudget,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limitsFromEnv(), ...opts.limits };
    this.devices = opts.devices ?? process.getuid?.() === 0;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  /** Makes sure every parent of `rel` is a real directory, creating missing ones. */
  private async parents(entry: string, rel: string, create: boolean): Promise<void> {
    const parts = rel.split('/');
    parts.pop();
    let cur = '';
    for (const part of parts) {
      cur = cur === '' ? part : `${cur}/${part}`;
      if (this.dirs.has(cur)) continue;
      const st = await lstat(this.abs(cur)).catch(() => null);
      if (st === null) {
        if (!create) throw new BadArchiveError(this.opts.source, `'${cur}' does not exist`, entry);
        await mkdir(this.abs(cur), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw new UnsafePathError(this.opts.source, entry, `parent '${cur}' is a symlink`);
      } else if (!st.isDirectory()) {
        throw new BadArchiveError(this.opts.source, `parent '${cur}' is not a directory`, entry);
      }
      this.dirs.add(cur);
    }
  }

  /** Removes whatever is at `rel` so a new entry can take its place; keeps a directory when one is wanted. */
  private async clear(rel: string, keepDir: boolean): Promise<boolean> {
    const st = await lstat(this.abs(rel)).catch(() => null);
    if (st === null) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      await rm(this.abs(rel), { recursive: true, force: true });
      for (const d of this.dirs) if (d === rel || d.startsWith(rel + '/')) this.dirs.delete(d);
      for (const d of this.dirMeta.keys()) if (d === rel || d.startsWith(rel + '/')) this.dirMeta.delete(d);
    } else {
      await unlink(this.abs(rel));
    }
    return false;
  }

  private async meta(path: string, h: tar.Header, times: Times, xattrs: Array<[string, Buffer]>, mode?: number): Promise<void> {
    const pax = (h.pax ?? {}) as Record<string, string>;
    await lchown(path, intOr(pax.uid, h.uid), intOr(pax.gid, h.gid));
    // chown clears set-id bits, so the mode comes after it.
    if (mode !== undefined) await chmod(path, mode);
    for (const [name, value] of xattrs) setxattr(path, name, value);
    utimens(path, times.asec, times.ansec, times.msec, times.mnsec);
  }

  async entry(h: tar.Header, body: AsyncIterable<Buffer>): Promise<void> {
    const src = this.opts.source;
    if (++this.entries > this.limits.maxEntries) throw new BadArchiveError(src, `more than ${this.limits.maxEntries} entries`, h.name);
    // byteOffset (where the entry's data starts) is set by tar-stream's extractor but not typed; hence the pinned version.
    const offset = (h as tar.Header & { byteOffset?: number }).byteOffset ?? -1;
    const special = this.pax.specialAt(offset);
    if (special?.kind === 'unsupported') throw new BadArchiveError(src, `${special.what} is not supported`, h.name);
    const sparse = special?.kind === 'sparse' ? special : null;
    const rel = safeName(src, sparse?.name ?? h.name);
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    const times = timesOf(h);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const xattrs = this.pax.xattrsAt(offset).filter(([n]) => !n.startsWith('trusted.overlay.'));

    if (rel === '') {
      if (h.type !== 'directory') throw new BadArchiveError(src, 'the layer root is not a directory', h.name);
      await this.meta(this.root, h, times, xattrs);
      this.dirMeta.set(rel, { mode, times });
      return;
    }
    await this.parents(h.name, rel, true);
    const path = this.abs(rel);
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';

    if (base === OPAQUE) {
      setxattr(this.abs(parent), 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (base.startsWith(WH)) {
      const hidden = base.slice(WH.length);
      if (hidden.startsWith(WH)) return; // other aufs metadata (.wh..wh.plnk and the like) means nothing here
      if (hidden === '' || hidden === '.' || hidden === '..') throw new UnsafePathError(src, h.name, `whiteout of '${hidden}'`);
      const target = parent === '' ? hidden : `${parent}/${hidden}`;
      await this.clear(target, false);
      mkWhiteout(this.abs(target));
      return;
    }

    switch (sparse ? 'file' : h.type) {
      case 'directory': {
        if (!(await this.clear(rel, true))) await mkdir(path, { mode: 0o700 });
        this.dirs.add(rel);
        await this.meta(path, h, times, xattrs);
        this.dirMeta.set(rel, { mode, times });
        return;
      }
      case 'file':
      case 'contiguous-file': {
        // a sparse file's holes take no space: its size counts against the limits, its data against the disk
        const size = sparse ? sparse.realSize : h.size ?? 0;
        const { maxEntrySize, maxTotalSize } = this.limits;
        if (maxEntrySize !== undefined && size > maxEntrySize) throw new BadArchiveError(src, `file of ${size} bytes exceeds the limit of ${maxEntrySize}`, h.name);
        this.unpackedSize += size;
        if (maxTotalSize !== undefined && this.unpackedSize > maxTotalSize) throw new BadArchiveError(src, `layer exceeds the limit of ${maxTotalSize} bytes`, h.name);
        await this.space.need(h.size ?? 0, `${src}: entry '${h.name}'`);
        await this.clear(rel, false);
        const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          if (sparse) {
            const why = await writeSparse(fh, body, sparse, h.size ?? 0);
            if (why !== null) throw new BadArchiveError(src, `${sparse.format} sparse file: ${why}`, h.name);
          } else for await (const chunk of body) await fh.write(chunk);
        } finally {
          await fh.close();
        }
        await this.meta(path, h, times, xattrs, mode);
        return;
      }
      case 'link': {
        const target = safeName(src, h.linkname ?? '', 'hard link target', h.name);
        if (target === '') throw new UnsafePathError(src, h.name, 'hard link to the layer root');
        const notFile = new BadArchiveError(src, `hard link target '${h.linkname}' is not an earlier file of this layer`, h.name);
        await this.parents(h.name, target, false).catch((err: unknown) => {
          throw err instanceof UnsafePathError ? new UnsafePathError(src, h.name, `hard link target '${h.linkname}' goes through a symlink`) : notFile;
        });
        const st = await lstat(this.abs(target)).catch(() => null);
        if (st === null || st.isDirectory()) throw notFile;
        if (target === rel) return;
        await this.clear(rel, false);
        await link(this.abs(target), path);
        return;
      }
      case 'symlink': {
        await this.clear(rel, false);
        await symlink(h.linkname ?? '', path);
        await this.meta(path, h, times, xattrs);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        if (kind !== S_IFIFO && !this.devices) throw new UnsafePathError(src, h.name, 'device file, and not running as root');
        await this.clear(rel, false);
        mknod(path, kind | mode, h.devmajor ?? 0, h.devminor ?? 0);
        await this.meta(path, h, times, xattrs, mode);
        return;
      }
      default:
        throw new BadArchiveError(src, `unsupported entry type '${h.type}'`, h.name);
    }
  }

  /** No entry is created after this, so no directory time changes again; the order does not matter. */
  async finish(): Promise<void> {
    for (const [rel, { mode, times }] of this.dirMeta) {
      const path = this.abs(rel);
      await chmod(path, mode);
      utimens(path, times.asec, times.ansec, times.msec, times.mnsec);
    }
  }
}

/** Names a tar-stream or decompression failure as a bad archive; our own errors pass through. */
export function asArchiveError(err: unknown, source: string): unknown {
  if (err instanceof LayerfsError) return err;
  const e = err as { code?: unknown; message?: string };
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) && !e.code.startsWith('ERR_')) return err; // a real I/O error
  return new BadArchiveError(source, e.message ?? String(err));
}

/** Feeds an async iterable into a tar-stream extractor, respecting its back-pressure. */
export async function feed(input: AsyncIterable<Buffer> | Iterable<Buffer>, ex: tar.Extract, tap?: PaxTap): Promise<void> {
  for await (const chunk of input) {
    if (ex.destroyed) return;
    tap?.push(chunk);
    if (!ex.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          ex.off('drain', done);
          ex.off('close', done);
          resolve();
        };
        ex.on('drain', done);
        ex.on('close', done);
      });
    }
  }
  (ex as unknown as { end(): void }).end();
}

/** Unpacks the tar bytes of `input` into `dir` (which must exist and be empty). */
export async function unpack(input: AsyncIterable<Buffer> | Iterable<Buffer>, dir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const u = new Unpacker(dir, opts, opts.space ?? (await SpaceBudget.of(dir)));
  const ex = tar.extract();
  // The extractor's own error ("Unexpected end of data") says more than the "destroyed" an entry stream then reports.
  let cause: unknown = null;
  ex.on('error', (err: unknown) => (cause ??= err));
  const feeding = feed(input, ex, u.pax).catch((err: unknown) => {
    cause ??= err;
    ex.destroy(err as Error);
  });
  try {
    for await (const entry of ex) {
      await u.entry(entry.header, entry as unknown as AsyncIterable<Buffer>);
      entry.resume();
    }
    await feeding;
    await u.finish();
  } catch (err) {
    ex.destroy(null as unknown as Error);
    await feeding;
    throw asArchiveError(err instanceof LayerfsError ? err : cause ?? err, opts.source);
  }
  return { unpackedSize: u.unpackedSize, entries: u.entries };
}
