/**
 * A directory tree as a tar stream: `export` packs a container's merged
 * tree; `commit` packs its upper dir as an OCI layer, where a char 0:0
 * whiteout becomes an empty `.wh.NAME` file and an opaque dir gets a
 * `.wh..wh..opq` entry (image-spec layer.md). Hard links become tar links;
 * xattrs travel as PAX `SCHILY.xattr.*` records, byte for byte (our own PAX
 * headers: tar-stream would write them as UTF-8 text), except overlay bookkeeping.
 */
import { createReadStream, readdirSync, readlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { fileType, getxattr, isWhiteoutStat, listxattr, lstat, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, ST, type StatBuf } from '../sys.js';
import { isOpaqueDir, OPAQUE_MARKER, WHITEOUT_PREFIX } from '../overlay/whiteout.js';
import { paxEntry, retypePaxEntries, XATTR_PREFIX } from '../store/pax.js';

export interface PackOptions {
  /** Pack as an OCI layer (whiteouts and opaque markers) rather than a plain tree. */
  layer: boolean;
}

const mtimeOf = (st: StatBuf) => new Date(st[ST.mtimeSec]! * 1000 + Math.floor(st[ST.mtimeNsec]! / 1e6));

function xattrsOf(real: string): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const name of listxattr(real)) {
    if (name.startsWith('trusted.overlay.') || name.startsWith('user.fuseoverlayfs.')) continue;
    const v = getxattr(real, name);
    if (v !== null) out.push([`${XATTR_PREFIX}${name}`, v]);
  }
  return out;
}

/** A ustar name field holds 100 bytes; a longer name then travels in our PAX header, which the reader prefers. */
const USTAR_NAME = 100;

/** Starts packing `root` and returns the tar stream; a failure destroys the stream with the error. */
export function packTree(root: string, opts: PackOptions): Readable {
  const pack = tar.pack();
  const links = new Map<string, string>();

  const entry = (header: tar.Header, body: Buffer) =>
    new Promise<void>((resolve, reject) => pack.entry(header, body, (err) => (err ? reject(err) : resolve())));

  const add = async (fields: Partial<tar.Header> & { name: string; xattrs?: Array<[string, Buffer]> }, body?: string) => {
    const { xattrs, ...rest } = fields;
    const header = { size: 0, ...rest } as tar.Header;
    if (xattrs?.length) {
      const records: Array<[string, Buffer | string]> = [...xattrs];
      if (Buffer.byteLength(header.name) > USTAR_NAME) {
        records.unshift(['path', header.name]);
        header.name = header.type === 'directory' ? 'PaxPath/' : 'PaxPath';
      }
      if (header.linkname && Buffer.byteLength(header.linkname) > USTAR_NAME) {
        records.unshift(['linkpath', header.linkname]);
        header.linkname = 'PaxLinkPath';
      }
      const pax = paxEntry(records);
      await entry(pax.header as tar.Header, pax.body);
    }
    return new Promise<void>((resolve, reject) => {
      if (body === undefined) {
        pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
        return;
      }
      const sink = pack.entry(header, (err) => (err ? reject(err) : undefined));
      pipeline(createReadStream(body), sink).then(resolve, reject);
    });
  };

  const walk = async (real: string, name: string) => {
    for (const child of readdirSync(real).sort()) {
      const childReal = `${real}/${child}`;
      const childName = name === '' ? child : `${name}/${child}`;
      const st = lstat(childReal);
      if (st === null) continue;
      const type = fileType(st[ST.mode]!);
      const base = { name: childName, mode: st[ST.mode]! & 0o7777, uid: st[ST.uid]!, gid: st[ST.gid]!, mtime: mtimeOf(st) };
      if (opts.layer && isWhiteoutStat(st)) {
        const parent = name === '' ? '' : `${name}/`;
        await add({ ...base, name: `${parent}${WHITEOUT_PREFIX}${child}`, type: 'file', mode: 0o644, size: 0 });
        continue;
      }
      const xattrs = xattrsOf(childReal);
      const key = `${st[ST.dev]}:${st[ST.ino]}`;
      if (type !== S_IFDIR && st[ST.nlink]! > 1) {
        const first = links.get(key);
        if (first !== undefined) {
          await add({ ...base, type: 'link', linkname: first, size: 0 });
          continue;
        }
        links.set(key, childName);
      }
      switch (type) {
        case S_IFDIR:
          await add({ ...base, name: `${childName}/`, type: 'directory', xattrs });
          if (opts.layer && isOpaqueDir(childReal)) await add({ ...base, name: `${childName}/${OPAQUE_MARKER}`, type: 'file', mode: 0o644, size: 0 });
          await walk(childReal, childName);
          break;
        case S_IFREG:
          await add({ ...base, type: 'file', size: st[ST.size]!, xattrs }, childReal);
          break;
        case S_IFLNK:
          await add({ ...base, type: 'symlink', linkname: readlinkSync(childReal), xattrs });
          break;
        case S_IFCHR:
        case S_IFBLK:
          await add({ ...base, type: type === S_IFCHR ? 'character-device' : 'block-device', devmajor: Math.floor(st[ST.rdev]! / 256) & 0xfff, devminor: (st[ST.rdev]! & 0xff) | ((Math.floor(st[ST.rdev]! / 4096) & 0xfff00)), xattrs });
          break;
        case S_IFIFO:
          await add({ ...base, type: 'fifo', xattrs });
          break;
        default:
          break; // sockets do not go in a tar
      }
    }
  };

  walk(root, '').then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  const out = retypePaxEntries();
  pipeline(pack as unknown as Readable, out).catch((err: Error) => out.destroy(err));
  return out;
}
