/**
 * Copy-up origins, in kernel overlayfs's format, and the inode numbers they
 * give. On copy-up the kernel writes `trusted.overlay.origin` on the copy: a
 * file handle of the lower inode (struct ovl_fb: version 0, magic 0xfb, total
 * length, flags, handle type, the lower filesystem's 16-byte uuid, then the
 * handle name_to_handle_at(2) gives). An empty value means "copied up, origin
 * unknown" (a lower filesystem that cannot decode handles). The copy's parent
 * gets `trusted.overlay.impure=y`: it now holds entries whose inode numbers
 * come from elsewhere, which readdir must look up.
 *
 * Inode numbers (index=off, xino=off), as the kernel's ovl_getattr shows them:
 * - an upper non-directory whose origin decodes to an inode of the right type
 *   with one link shows that inode's number, wherever it has moved since;
 * - an upper directory that merges a lower copy shows the first lower copy's
 *   number, origin or not, when all layers are on one filesystem;
 * - anything else shows its upper inode's number.
 * Decoding uses open_by_handle_at(2) (CAP_DAC_READ_SEARCH, as the kernel
 * needs it too); lower layers never change under a mount, so each handle is
 * decoded once. See native-notes/origin.md.
 */
import { endianness } from 'node:os';
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { FsError } from '../errors.js';
import { fileType, fsUuid, ST, statByHandle, type FileHandle, type StatBuf } from '../sys.js';
import { getxattr, lstat, nameToHandle, setxattr } from './long-path.js';
import type { Found, Layer } from './resolve.js';

export const ORIGIN_XATTR = 'trusted.overlay.origin';
export const IMPURE_XATTR = 'trusted.overlay.impure';

const VERSION = 0;
const MAGIC = 0xfb;
const HEADER = 21; // version, magic, len, flags, type, uuid[16]
const FLAG_BIG_ENDIAN = 1;
const FLAG_ANY_ENDIAN = 2;
const FLAG_ALL = 7; // with PATH_UPPER (4), used only by index entries
const CPU_ENDIAN = endianness() === 'BE' ? FLAG_BIG_ENDIAN : 0;
const NULL_UUID = Buffer.alloc(16);

/** A parsed origin: the lower filesystem's uuid and the handle. */
export interface OriginHandle { uuid: Buffer; handle: FileHandle }

/** The xattr value for `handle` on a filesystem with `uuid`; empty for "origin unknown". */
export function formatOrigin(handle: FileHandle | null, uuid: Buffer | null): Buffer {
  if (handle === null) return Buffer.alloc(0);
  const v = Buffer.alloc(HEADER + handle.bytes.length);
  v[0] = VERSION;
  v[1] = MAGIC;
  v[2] = v.length;
  v[3] = CPU_ENDIAN;
  v[4] = handle.type & 0xff;
  (uuid ?? NULL_UUID).copy(v, 5);
  handle.bytes.copy(v, HEADER);
  return v;
}

/** The handle in an origin value, or null when it names none the kernel would use (ovl_check_fb_len). */
export function parseOrigin(v: Buffer): OriginHandle | null {
  if (v.length < HEADER || v.length < v[2]! || v[2]! < HEADER || v[1] !== MAGIC) return null;
  const flags = v[3]!;
  if (v[0]! > VERSION || flags & ~FLAG_ALL) return null;
  if (!(flags & FLAG_ANY_ENDIAN) && (flags & FLAG_BIG_ENDIAN) !== CPU_ENDIAN) return null;
  return { uuid: v.subarray(5, HEADER), handle: { type: v[4]!, bytes: v.subarray(HEADER, v[2]) } };
}

/** What the origin's inode number depends on. */
interface Decoded { ino: number; type: number; nlink: number }

/**
 * A filesystem the lower layers are on: a directory on it, the fd handles are
 * decoded with (opened at the first decode, -1 until then), and its uuid (null: unknown).
 */
interface LowerFs { dev: number; root: string; fd: number; uuid: Buffer | null }

export class Origins {
  /** All layers on one filesystem: merged directories show their lower copy's number. */
  readonly sameFs: boolean;
  private readonly lowerFs: LowerFs[] = [];
  private readonly decoded = new LRUCache<string, Decoded | false>({ max: 100_000 });
  /** False once open_by_handle_at was refused (no CAP_DAC_READ_SEARCH). */
  private canDecode = true;

  constructor(layers: readonly Layer[]) {
    const devs = layers.map((l) => lstat(l.root)![ST.dev]!);
    this.sameFs = devs.every((d) => d === devs[0]);
    layers.forEach((l, i) => {
      if (!l.upper && !this.lowerFs.some((f) => f.dev === devs[i])) this.lowerFs.push({ dev: devs[i]!, root: l.root, fd: -1, uuid: fsUuid(l.root) });
    });
  }

  /** Closes the fds decoding opened (an overlay that decoded holds its lower filesystems until then). */
  close(): void {
    for (const fs of this.lowerFs) {
      if (fs.fd >= 0) closeSync(fs.fd);
      fs.fd = -1;
    }
  }

  /**
   * The origin value for a copy of the lower entry `real` (stat `st`), as the
   * kernel encodes it; empty when its filesystem cannot encode handles.
   */
  encode(real: string, st: StatBuf): Buffer {
    const handle = nameToHandle(real);
    const fs = this.lowerFs.find((f) => f.dev === st[ST.dev]);
    const v = formatOrigin(handle, fs?.uuid ?? null);
    // Known without decoding: the copy-up just read it.
    if (handle !== null) this.decoded.set(v.toString('latin1'), { ino: st[ST.ino]!, type: fileType(st[ST.mode]!), nlink: st[ST.nlink]! });
    return v;
  }

  /** The number the upper entry `e` shows, when it is not its own inode's. */
  shownIno(e: Found): number | undefined {
    if (e.dirs.length > 0) {
      if (!this.sameFs || e.dirs.length < 2) return undefined;
      return lstat(e.dirs[1]!.real)?.[ST.ino];
    }
    return this.originIno(e.real, e.stat);
  }

  /** The origin's number of the upper non-directory `real` (stat `st`), if the kernel would show it. */
  originIno(real: string, st: StatBuf): number | undefined {
    let v: Buffer | null;
    try {
      v = getxattr(real, ORIGIN_XATTR);
    } catch (err) {
      if ((err as FsError).code === 'EOPNOTSUPP') return undefined; // an upper filesystem without xattrs
      throw err;
    }
    if (v === null || v.length === 0) return undefined;
    const o = this.decode(v);
    // A lower hard link may have been broken apart into several upper files: none shows its number.
    if (o === false || o.type !== fileType(st[ST.mode]!) || o.nlink !== 1) return undefined;
    return o.ino;
  }

  private decode(v: Buffer): Decoded | false {
    const key = v.toString('latin1');
    const hit = this.decoded.get(key);
    if (hit !== undefined) return hit;
    const parsed = parseOrigin(v);
    let found: Decoded | false = false;
    if (parsed !== null && this.canDecode) {
      for (const fs of this.lowerFs) {
        if (fs.uuid !== null && !fs.uuid.equals(parsed.uuid)) continue;
        let st: StatBuf | null;
        if (fs.fd < 0) fs.fd = openSync(fs.root, fsc.O_RDONLY | fsc.O_DIRECTORY);
        try {
          st = statByHandle(fs.fd, parsed.handle);
        } catch (err) {
          if ((err as FsError).code !== 'EPERM') throw err;
          this.canDecode = false;
          return false; // not cached: nothing was learnt about this handle
        }
        if (st === null) continue;
        found = { ino: st[ST.ino]!, type: fileType(st[ST.mode]!), nlink: st[ST.nlink]! };
        break;
      }
    }
    this.decoded.set(key, found);
    return found;
  }
}

/**
 * Writes `value` as the origin of `copy`. Like the kernel, an upper filesystem
 * without xattrs (or a caller that may not set trusted.*) leaves it out.
 */
export function setOrigin(copy: string, value: Buffer): void {
  ignoringUnsupported(() => setxattr(copy, ORIGIN_XATTR, value));
}

/** Marks the upper directory `dir` impure (it holds copied-up entries), once. */
export function markImpure(dir: string): void {
  ignoringUnsupported(() => {
    if (getxattr(dir, IMPURE_XATTR) === null) setxattr(dir, IMPURE_XATTR, Buffer.from('y'));
  });
}

/** Whether the upper directory `dir` is marked impure. */
export function isImpure(dir: string): boolean {
  try {
    return getxattr(dir, IMPURE_XATTR) !== null;
  } catch {
    return false;
  }
}

/** Whether the upper entry `real` records a known copy-up origin. */
export function hasOrigin(real: string): boolean {
  try {
    return (getxattr(real, ORIGIN_XATTR)?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

function ignoringUnsupported(write: () => void): void {
  try {
    write();
  } catch (err) {
    const code = (err as FsError).code;
    if (code !== 'EOPNOTSUPP' && code !== 'EPERM') throw err;
  }
}
