/**
 * layerfs's own FUSE engine, the JS half (native-notes/fuse-engine.md): it
 * mounts /dev/fuse, negotiates INIT, keeps the node table and answers every
 * request the native reader threads hand over, on the same FuseOps table the
 * fuse-native binding takes. Reads, writes, fsync, flush, fallocate and lseek
 * on open files never come here: C serves them on the fd open returned.
 *
 * Every request is answered exactly once: a handler's result, or the errno of
 * whatever it threw (toErrno, the one place errors become errnos). FORGET and
 * BATCH_FORGET take no answer.
 */
import { fchmodSync, fchownSync, ftruncateSync, openSync } from 'node:fs';
import { FsError, errnoOf, toErrno } from '../errors.js';
import { fstat, futimens, S_IFDIR, S_IFMT, ST, type StatBuf } from '../sys.js';
import type { Caller, FuseMount, FuseOps } from './binding.js';
import { native } from './engine-native.js';
import { IoModes } from './io-modes.js';
import { kernelMount, kernelUnmount } from './kernel-mount.js';
import { NodeTable, type Node } from './nodes.js';
import {
  ATTR_OUT, cstring, decodeDev, fileName, ENTRY_OUT, FATTR, FOPEN, IN_HEADER, INIT, INIT2, OP, OPEN_OUT, OUT_HEADER,
  PROTOCOL_MINOR, put64, putAttr, putTimeout, s64, u64,
} from './protocol.js';

export interface EngineOptions {
  fsname: string;
  readonly: boolean;
  /** Seconds the kernel may keep names, attributes and absent names. */
  entryTimeout: number;
  attrTimeout: number;
  negativeTimeout: number;
  /** Reader threads on /dev/fuse. */
  threads: number;
  /** FUSE passthrough where the kernel allows it (Linux 6.9+, CAP_SYS_ADMIN). */
  passthrough: boolean;
  /** How long (ms) the JS thread polls for the next request before it sleeps. */
  spinMs: number;
  allowOther: boolean;
  suid: boolean;
  dev: boolean;
  log: (msg: string) => void;
}

const MAX_WRITE = 1 << 20;
const NO_ID = 0xffffffff;
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const RENAME_NOREPLACE = 1;
const O_TRUNC = 0o1000;
const NOTIFY_INVAL_INODE = 2;
const CAPS = 'security.capability';
interface Req extends Caller {
  readonly op: number;
  readonly unique: number;
  readonly nodeid: number;
  readonly devfd: number;
  readonly buf: Buffer;
}

export async function mountEngine(mountpoint: string, ops: FuseOps, opts: EngineOptions): Promise<FuseMount> {
  const root = await ops.getattr('/', { uid: 0, gid: 0, pid: 0, umask: 0 });
  const fd = kernelMount(mountpoint, opts);
  return new Session(ops, opts, root, mountpoint).start(fd);
}

/** A directory handle: the listing taken at offset 0, served in pieces. */
interface DirHandle { node: Node; names: string[]; stats: StatBuf[] }

class Session {
  private readonly nodes: NodeTable;
  private readonly dirs = new Map<number, DirHandle>();
  private readonly fhNode = new Map<number, Node>();
  private io = new IoModes(false);
  private draining = false;
  /** From take(): [0] the fd to answer on, [1] requests C served on the way. */
  private readonly meta = new Int32Array(2);
  private nextDir = 1;
  private native: object | undefined;
  private ready!: () => void;
  private onClosed!: () => void;
  private readonly closed = new Promise<void>((resolve) => (this.onClosed = resolve));

  constructor(private readonly ops: FuseOps, private readonly opts: EngineOptions, root: StatBuf, private readonly mountpoint: string) {
    this.nodes = new NodeTable(root);
  }

  start(fd: number): Promise<FuseMount> {
    const initialized = new Promise<void>((resolve) => (this.ready = resolve));
    this.native = native.start(fd, this.opts.threads, () => this.drain());
    const mount: FuseMount = {
      mountpoint: this.mountpoint,
      closed: this.closed,
      unmount: async () => {
        await kernelUnmount(this.mountpoint);
        await this.closed;
      },
    };
    return Promise.race([initialized.then(() => mount), this.closed.then(() => {
      throw new FsError('EIO', 'mount', this.mountpoint, 'the kernel closed the connection before INIT');
    })]);
  }

  /**
   * Takes every request the reader threads posted, then keeps polling for new
   * ones for `spinMs` before it sleeps: a request that comes within that time
   * costs no wake-up. A request C served on this thread (a READ of a file
   * just opened) counts as one: the next request for JS usually follows it.
   * Each round is a setImmediate, so replies (microtasks), timers and I/O run
   * in between.
   */
  private drain(): void {
    if (this.draining || this.native === undefined) return;
    this.draining = true;
    const session = this.native;
    native.setAwake(session, true);
    let last = performance.now();
    const round = () => {
      for (let buf = native.take(session, this.meta); buf !== null; buf = native.take(session, this.meta)) {
        if (buf.length === 0) return this.finish();
        void this.dispatch(buf, this.meta[0]!);
        last = performance.now();
      }
      if (this.meta[1]! > 0) last = performance.now();
      if (performance.now() - last > this.opts.spinMs) {
        native.setAwake(session, false);
        const buf = native.take(session, this.meta);
        if (buf === null) {
          this.draining = false;
          return;
        }
        native.setAwake(session, true);
        if (buf.length === 0) return this.finish();
        void this.dispatch(buf, this.meta[0]!);
        last = performance.now();
      }
      setImmediate(round);
    };
    round();
  }

  private finish(): void {
    this.draining = false;
    if (this.native !== undefined) native.finish(this.native);
    this.native = undefined;
    for (const fd of this.fhNode.keys()) {
      try {
        void this.ops.release?.('', fd);
      } catch {
        // closing what is left; nothing to answer
      }
    }
    this.fhNode.clear();
    this.onClosed();
  }

  private async dispatch(buf: Buffer, devfd: number): Promise<void> {
    const req: Req = {
      op: buf.readUInt32LE(4), unique: u64(buf, 8), nodeid: u64(buf, 16),
      uid: buf.readUInt32LE(24), gid: buf.readUInt32LE(28), pid: buf.readUInt32LE(32), umask: 0, devfd, buf,
    };
    try {
      await this.handle(req);
    } catch (err) {
      this.error(req, -toErrno(err, this.opts.log));
    }
  }

  // ---- replies ----

  private send(req: Req, out: Buffer, len = out.length): void {
    out.writeUInt32LE(len, 0);
    out.writeInt32LE(0, 4);
    put64(out, 8, req.unique);
    this.reply(req.devfd, out, len);
  }

  private error(req: Req, errno: number): void {
    const out = Buffer.alloc(OUT_HEADER);
    out.writeUInt32LE(OUT_HEADER, 0);
    out.writeInt32LE(-errno, 4);
    put64(out, 8, req.unique);
    this.reply(req.devfd, out, OUT_HEADER);
  }

  /** Once the connection ended its fds are closed, and their numbers may be reused: answer nothing. */
  private reply(devfd: number, out: Buffer, len: number): void {
    if (this.native !== undefined) native.reply(devfd, out, len);
  }

  private ok(req: Req): void {
    this.send(req, Buffer.alloc(OUT_HEADER));
  }

  private data(req: Req, payload: Buffer): void {
    const out = Buffer.allocUnsafe(OUT_HEADER + payload.length);
    payload.copy(out, OUT_HEADER);
    this.send(req, out);
  }

  /** getxattr/listxattr: the size alone when asked with 0, ERANGE when too small. */
  private sized(req: Req, size: number, value: Buffer): void {
    if (size === 0) {
      const out = Buffer.alloc(OUT_HEADER + 8);
      out.writeUInt32LE(value.length, OUT_HEADER);
      return this.send(req, out);
    }
    if (value.length > size) return this.error(req, errnoOf('ERANGE'));
    this.data(req, value);
  }

  private putEntry(out: Buffer, o: number, node: Node, st: StatBuf): void {
    put64(out, o, node.id);
    put64(out, o + 8, 0);
    putTimeout(out, o + 16, o + 32, this.opts.entryTimeout);
    putTimeout(out, o + 24, o + 36, this.opts.attrTimeout);
    putAttr(out, o + 40, st, this.shownIno(node, st));
  }

  private entry(req: Req, node: Node, st: StatBuf, extra = 0): Buffer {
    const out = Buffer.alloc(OUT_HEADER + ENTRY_OUT + extra);
    this.putEntry(out, OUT_HEADER, node, st);
    return out;
  }

  private attr(req: Req, node: Node, st: StatBuf): void {
    const out = Buffer.alloc(OUT_HEADER + ATTR_OUT);
    putTimeout(out, OUT_HEADER, OUT_HEADER + 8, this.opts.attrTimeout);
    putAttr(out, OUT_HEADER + 16, st, this.shownIno(node, st));
    this.send(req, out);
  }

  // ---- helpers ----

  /** The node's first inode number, which outlives copy-up (see nodes.ts); a directory's last stat. */
  private shownIno(node: Node, st: StatBuf): number {
    if (node.isDir) node.lastStat = st;
    return node.ino || st[ST.ino]!;
  }

  private node(req: Req, id = req.nodeid): Node {
    const node = this.nodes.get(id);
    if (node === undefined) throw new FsError('ESTALE', 'lookup', `node ${id}`);
    return node;
  }

  private pathOf(node: Node): string {
    const p = this.nodes.path(node);
    if (p === undefined) throw new FsError('ENOENT', 'lookup', node.lastPath);
    return p;
  }

  private childPath(parent: Node, name: string): string {
    const p = this.nodes.childPath(parent, name);
    if (p === undefined) throw new FsError('ENOENT', 'lookup', `${parent.lastPath}/${name}`);
    return p;
  }

  private async stat(path: string, c: Caller): Promise<{ stat: StatBuf; shared?: string }> {
    return this.ops.lookup ? this.ops.lookup(path, c) : { stat: await this.ops.getattr(path, c) };
  }

  /** Looks a new or changed name up and answers with its entry. */
  private async answerEntry(req: Req, parent: Node, name: string): Promise<void> {
    const { stat, shared } = await this.stat(this.childPath(parent, name), req);
    const node = this.nodes.lookedUp(parent, name, stat, shared);
    this.send(req, this.entry(req, node, stat));
  }

  /** An fd to reach a file no name leads to any more (open, unlinked). */
  private openFd(node: Node, writable: boolean, usable: (fd: number) => boolean = () => true): number {
    for (const [fd, w] of node.fds ?? []) if ((w || !writable) && usable(fd)) return fd;
    throw new FsError('ENOENT', 'open', node.lastPath);
  }

  // ---- requests ----

  private async handle(req: Req): Promise<void> {
    const b = req.buf;
    const a = IN_HEADER;
    switch (req.op) {
      case OP.INIT: return this.init(req);
      case OP.DESTROY: return this.ok(req);
      case OP.FORGET: {
        const node = this.nodes.get(req.nodeid);
        if (node !== undefined) this.nodes.forget(node, u64(b, a));
        return;
      }
      case OP.BATCH_FORGET: {
        const count = b.readUInt32LE(a);
        for (let i = 0, o = a + 8; i < count && o + 16 <= b.length; i++, o += 16) {
          const node = this.nodes.get(u64(b, o));
          if (node !== undefined) this.nodes.forget(node, u64(b, o + 8));
        }
        return;
      }
      case OP.LOOKUP: {
        const parent = this.node(req);
        const [name] = fileName(b, a);
        let found: { stat: StatBuf; shared?: string };
        try {
          found = await this.stat(this.childPath(parent, name), req);
        } catch (err) {
          if ((err as FsError).code !== 'ENOENT' || this.opts.negativeTimeout <= 0) throw err;
          // An absent name, cached by the kernel for negative_timeout.
          const out = Buffer.alloc(OUT_HEADER + ENTRY_OUT);
          putTimeout(out, OUT_HEADER + 16, OUT_HEADER + 32, this.opts.negativeTimeout);
          return this.send(req, out);
        }
        const node = this.nodes.lookedUp(parent, name, found.stat, found.shared);
        return this.send(req, this.entry(req, node, found.stat));
      }
      case OP.GETATTR: return this.getattr(req, this.node(req));
      case OP.SETATTR: return this.setattr(req, this.node(req));
      case OP.READLINK: {
        const target = await this.ops.readlink!(this.pathOf(this.node(req)), req);
        return this.data(req, Buffer.from(target));
      }
      case OP.SYMLINK: {
        const parent = this.node(req);
        const [name, next] = fileName(b, a);
        const [target] = cstring(b, next);
        await this.ops.symlink!(target, this.childPath(parent, name), req);
        return this.answerEntry(req, parent, name);
      }
      case OP.MKNOD: {
        const parent = this.node(req);
        const mode = b.readUInt32LE(a);
        const c = { ...req, umask: b.readUInt32LE(a + 8) };
        const [name] = fileName(b, a + 16);
        await this.ops.mknod!(this.childPath(parent, name), mode, decodeDev(b.readUInt32LE(a + 4)), c);
        return this.answerEntry(req, parent, name);
      }
      case OP.MKDIR: {
        const parent = this.node(req);
        const mode = b.readUInt32LE(a);
        const c = { ...req, umask: b.readUInt32LE(a + 4) };
        const [name] = fileName(b, a + 8);
        await this.ops.mkdir!(this.childPath(parent, name), mode, c);
        return this.answerEntry(req, parent, name);
      }
      case OP.UNLINK:
      case OP.RMDIR: {
        const parent = this.node(req);
        const [name] = fileName(b, a);
        const path = this.childPath(parent, name);
        await (req.op === OP.UNLINK ? this.ops.unlink! : this.ops.rmdir!)(path, req);
        this.nodes.detach(parent, name);
        return this.ok(req);
      }
      case OP.RENAME: return this.rename(req, u64(b, a), 0, a + 8);
      case OP.RENAME2: return this.rename(req, u64(b, a), b.readUInt32LE(a + 8), a + 16);
      case OP.LINK: {
        const node = this.node(req, u64(b, a));
        const parent = this.node(req);
        const [name] = fileName(b, a + 8);
        const path = this.childPath(parent, name);
        await this.ops.link!(this.pathOf(node), path, req);
        const { stat, shared } = await this.stat(path, req);
        this.nodes.linked(node, parent, name, shared);
        return this.send(req, this.entry(req, node, stat));
      }
      case OP.OPEN: return this.open(req, this.node(req), b.readUInt32LE(a));
      case OP.CREATE: return this.create(req);
      case OP.RELEASE: {
        const fh = u64(b, a);
        const node = this.fhNode.get(fh);
        this.fhNode.delete(fh);
        if (node !== undefined) {
          this.nodes.released(node, fh);
          this.io.released(req.devfd, node, fh);
        }
        await this.ops.release!(node === undefined ? '' : node.lastPath, fh);
        return this.ok(req);
      }
      case OP.STATFS: {
        const s = await this.ops.statfs!('/', req);
        const out = Buffer.alloc(OUT_HEADER + 80);
        const o = OUT_HEADER;
        put64(out, o, s.blocks); put64(out, o + 8, s.bfree); put64(out, o + 16, s.bavail);
        put64(out, o + 24, s.files); put64(out, o + 32, s.ffree);
        out.writeUInt32LE(s.bsize, o + 40); out.writeUInt32LE(s.namemax, o + 44); out.writeUInt32LE(s.frsize, o + 48);
        return this.send(req, out);
      }
      case OP.SETXATTR: {
        const path = this.pathOf(this.node(req));
        const size = b.readUInt32LE(a);
        const flags = b.readUInt32LE(a + 4);
        const [name, next] = cstring(b, a + 8);
        await this.ops.setxattr!(path, name, Buffer.from(b.subarray(next, next + size)), flags, req);
        return this.ok(req);
      }
      case OP.GETXATTR: {
        const node = this.node(req);
        const size = b.readUInt32LE(a);
        const [name] = cstring(b, a + 8);
        let value: Buffer | null;
        try {
          value = await this.ops.getxattr!(this.pathOf(node), name, req);
        } catch (err) {
          if ((err as FsError).code !== 'ENODATA') throw err;
          value = null;
        }
        if (value === null) {
          if (name === CAPS && this.native !== undefined) native.noCaps(this.native, node.id);
          return this.error(req, errnoOf('ENODATA'));
        }
        return this.sized(req, size, value);
      }
      case OP.LISTXATTR: {
        const names = await this.ops.listxattr!(this.pathOf(this.node(req)), req);
        return this.sized(req, b.readUInt32LE(a), Buffer.from(names.map((n) => `${n}\0`).join('')));
      }
      case OP.REMOVEXATTR: {
        const [name] = cstring(b, a);
        await this.ops.removexattr!(this.pathOf(this.node(req)), name, req);
        return this.ok(req);
      }
      case OP.OPENDIR: {
        const node = this.node(req);
        if (this.nodes.path(node) === undefined && node.lastStat === undefined) this.pathOf(node);
        const fh = this.nextDir++;
        this.dirs.set(fh, { node, names: [], stats: [] });
        const out = Buffer.alloc(OUT_HEADER + OPEN_OUT);
        put64(out, OUT_HEADER, fh);
        out.writeUInt32LE(FOPEN.KEEP_CACHE | FOPEN.CACHE_DIR, OUT_HEADER + 8);
        return this.send(req, out);
      }
      case OP.READDIR:
      case OP.READDIRPLUS: return this.readdir(req, u64(b, a), u64(b, a + 8), b.readUInt32LE(a + 16));
      case OP.RELEASEDIR:
        this.dirs.delete(u64(b, a));
        return this.ok(req);
      case OP.FSYNCDIR: return this.ok(req);
      default:
        return this.error(req, errnoOf('ENOSYS'));
    }
  }

  private init(req: Req): void {
    const b = req.buf;
    const a = IN_HEADER;
    const major = b.readUInt32LE(a);
    const minor = b.readUInt32LE(a + 4);
    const out = Buffer.alloc(OUT_HEADER + 64);
    const o = OUT_HEADER;
    out.writeUInt32LE(7, o);
    out.writeUInt32LE(Math.min(minor, PROTOCOL_MINOR), o + 4);
    if (major !== 7) {
      this.send(req, out, OUT_HEADER + 8); // the kernel answers with the version it wants
      return;
    }
    const offered = b.readUInt32LE(a + 12);
    const offered2 = offered & INIT.INIT_EXT ? b.readUInt32LE(a + 16) : 0;
    const want = INIT.ASYNC_READ | INIT.ATOMIC_O_TRUNC | INIT.BIG_WRITES | INIT.DO_READDIRPLUS | INIT.READDIRPLUS_AUTO
      | INIT.ASYNC_DIO | INIT.PARALLEL_DIROPS | INIT.MAX_PAGES | INIT.CACHE_SYMLINKS | INIT.INIT_EXT;
    const passthrough = this.opts.passthrough && (offered2 & INIT2.PASSTHROUGH) !== 0;
    this.io = new IoModes(passthrough);
    out.writeUInt32LE(Math.min(b.readUInt32LE(a + 8), MAX_WRITE), o + 8); // max_readahead
    out.writeUInt32LE((offered & want) >>> 0, o + 12);
    if (passthrough) {
      out.writeUInt32LE(INIT2.PASSTHROUGH, o + 32);
      // Backing files on a plain filesystem (depth 0); on a stacked one the
      // kernel refuses them and those files fall back to C-served I/O.
      out.writeUInt32LE(1, o + 36);
    }
    out.writeUInt16LE(64, o + 16); // max_background
    out.writeUInt16LE(48, o + 18); // congestion_threshold
    out.writeUInt32LE(MAX_WRITE, o + 20);
    out.writeUInt32LE(1, o + 24); // time_gran: nanoseconds
    out.writeUInt16LE(MAX_WRITE / 4096, o + 28); // max_pages
    this.send(req, out);
    this.ready();
  }

  private async getattr(req: Req, node: Node): Promise<void> {
    const path = this.nodes.path(node);
    if (path !== undefined) return this.attr(req, node, await this.ops.getattr(path, req));
    if (node.isDir && node.lastStat !== undefined) return this.attr(req, node, removedDir(node.lastStat));
    const fd = this.openFd(node, false);
    return this.attr(req, node, this.ops.fgetattr ? await this.ops.fgetattr(node.lastPath, fd, req) : fstat(fd));
  }

  /** chmod, chown, truncate, utimens: in that order, as one request may carry several. */
  private async setattr(req: Req, node: Node): Promise<void> {
    const b = req.buf;
    const a = IN_HEADER;
    const valid = b.readUInt32LE(a);
    const fh = u64(b, a + 8);
    const path = this.nodes.path(node);
    if (path === undefined) return this.setattrUnlinked(req, node, valid, fh);
    const o = this.ops;
    if (valid & FATTR.MODE) await o.chmod!(path, b.readUInt32LE(a + 68) & 0o7777, req);
    if (valid & (FATTR.UID | FATTR.GID) || ctimeOnly(valid)) {
      await o.chown!(path, valid & FATTR.UID ? b.readUInt32LE(a + 76) : NO_ID, valid & FATTR.GID ? b.readUInt32LE(a + 80) : NO_ID, req);
    }
    if (valid & FATTR.SIZE) {
      if (valid & FATTR.FH && o.ftruncate) await o.ftruncate(path, fh, u64(b, a + 16), req);
      else await o.truncate!(path, u64(b, a + 16), req);
    }
    if (valid & (FATTR.ATIME | FATTR.MTIME)) {
      const [at, mt] = times(b, valid);
      await o.utimens!(path, at, mt, req);
    }
    return this.getattr(req, node);
  }

  /** A file no name leads to: changed through one of its open fds. */
  private setattrUnlinked(req: Req, node: Node, valid: number, fh: number): void {
    const b = req.buf;
    const a = IN_HEADER;
    // A truncate needs a writable fd; other changes any fd of the upper copy.
    const writable = (valid & FATTR.SIZE) !== 0;
    const usable = (fd: number) => this.ops.onUpper?.(fd) ?? node.fds?.get(fd) === true;
    const fd = valid & FATTR.FH && node.fds?.has(fh) && usable(fh) ? fh : this.openFd(node, writable, usable);
    if (valid & FATTR.MODE) fchmodSync(fd, b.readUInt32LE(a + 68) & 0o7777);
    if (valid & (FATTR.UID | FATTR.GID) || ctimeOnly(valid)) {
      fchownSync(fd, valid & FATTR.UID ? b.readUInt32LE(a + 76) : -1, valid & FATTR.GID ? b.readUInt32LE(a + 80) : -1);
    }
    if (valid & FATTR.SIZE) ftruncateSync(fd, u64(b, a + 16));
    if (valid & (FATTR.ATIME | FATTR.MTIME)) {
      const [at, mt] = times(b, valid);
      futimens(fd, at[0], at[1], mt[0], mt[1]);
    }
    this.attr(req, node, fstat(fd));
  }

  private async rename(req: Req, newDir: number, flags: number, namesAt: number): Promise<void> {
    const b = req.buf;
    const parent = this.node(req);
    const newParent = this.node(req, newDir);
    const [name, next] = fileName(b, namesAt);
    const [newName] = fileName(b, next);
    const from = this.childPath(parent, name);
    const to = this.childPath(newParent, newName);
    if (flags & ~RENAME_NOREPLACE) return this.error(req, errnoOf('EINVAL'));
    if (flags & RENAME_NOREPLACE) {
      let exists = true;
      try {
        await this.stat(to, req);
      } catch {
        exists = false;
      }
      if (exists) return this.error(req, errnoOf('EEXIST'));
    }
    await this.ops.rename!(from, to, req);
    this.nodes.renamed(parent, name, newParent, newName);
    return this.ok(req);
  }

  private async open(req: Req, node: Node, flags: number): Promise<void> {
    const path = this.nodes.path(node);
    // A file with no name left is reopened through an fd we hold (/proc/self/fd/N).
    const fd = path !== undefined
      ? await this.ops.open(path, flags, req)
      : openSync(`/proc/self/fd/${this.openFd(node, false)}`, flags & ~0o300);
    // Opening for writing may have copied the file up (a lower hard link then
    // has one link): the kernel must ask again. After O_TRUNC it does anyway.
    if ((flags & 3) !== 0 && !(flags & O_TRUNC)) this.invalidateAttrs(req.devfd, node);
    const out = Buffer.alloc(OUT_HEADER + OPEN_OUT);
    this.opened(req, node, fd, flags, out, OUT_HEADER);
    this.send(req, out);
  }

  /**
   * FUSE_NOTIFY_INVAL_INODE for attributes only (offset -1): the kernel takes
   * no inode lock for it, so it is safe inside a request on the same node.
   */
  private invalidateAttrs(devfd: number, node: Node): void {
    const out = Buffer.alloc(OUT_HEADER + 24);
    out.writeUInt32LE(out.length, 0);
    out.writeInt32LE(NOTIFY_INVAL_INODE, 4);
    put64(out, OUT_HEADER, node.id);
    put64(out, OUT_HEADER + 8, -1);
    this.reply(devfd, out, out.length);
  }

  /** Records an open fd and writes its fuse_open_out at `o`. */
  private opened(req: Req, node: Node, fd: number, flags: number, out: Buffer, o: number): void {
    (node.fds ??= new Map()).set(fd, (flags & 3) !== 0);
    this.fhNode.set(fd, node);
    const io = this.io.opened(req.devfd, node, fd, (flags & 3) !== 0);
    put64(out, o, fd);
    out.writeUInt32LE(io.flags, o + 8);
    out.writeUInt32LE(io.backingId, o + 12);
  }

  private async create(req: Req): Promise<void> {
    const b = req.buf;
    const a = IN_HEADER;
    const parent = this.node(req);
    const flags = b.readUInt32LE(a);
    const mode = b.readUInt32LE(a + 4);
    const c = { ...req, umask: b.readUInt32LE(a + 8) };
    const [name] = fileName(b, a + 16);
    const path = this.childPath(parent, name);
    const fd = await this.ops.create(path, mode, flags, c);
    let node: Node;
    let stat: StatBuf;
    try {
      // A new file: one name, in the upper layer; its fd has its attributes.
      stat = this.ops.fgetattr ? await this.ops.fgetattr(path, fd, req) : (await this.stat(path, req)).stat;
      node = this.nodes.lookedUp(parent, name, stat, undefined);
    } catch (err) {
      await this.ops.release?.(path, fd);
      throw err;
    }
    const out = this.entry(req, node, stat, OPEN_OUT);
    this.opened(req, node, fd, flags, out, OUT_HEADER + ENTRY_OUT);
    this.send(req, out);
  }

  /**
   * Dirents from the listing taken at offset 0; each entry's `off` is the
   * index of the next. With READDIRPLUS an entry carries its node and stat, and
   * counts as a lookup; '.' and '..', and lower-layer files that may be hard
   * links (the kernel would join them), go without (nodeid 0).
   */
  private async readdir(req: Req, fh: number, offset: number, size: number): Promise<void> {
    const h = this.dirs.get(fh);
    if (h === undefined) return this.error(req, errnoOf('EBADF'));
    if (offset === 0) {
      const path = this.nodes.path(h.node);
      // A removed directory still in use lists as empty, as on the kernel.
      const d = path === undefined ? removedListing(h.node) : await this.ops.readdir(path, req);
      h.names = d.names;
      h.stats = d.stats ?? [];
    }
    const plus = req.op === OP.READDIRPLUS;
    const out = Buffer.alloc(OUT_HEADER + size);
    let o = OUT_HEADER;
    for (let i = offset; i < h.names.length; i++) {
      const name = h.names[i]!;
      const nameBytes = Buffer.byteLength(name);
      const padded = ((plus ? ENTRY_OUT : 0) + 24 + nameBytes + 7) & ~7;
      if (o + padded > out.length) break;
      const st = h.stats[i];
      const dots = name === '.' || name === '..';
      const known = dots ? undefined : this.nodes.child(h.node, name);
      let d = o;
      if (plus) {
        if (!dots && st !== undefined && (known !== undefined || (st[ST.mode]! & S_IFMT) === S_IFDIR || st[ST.nlink]! <= 1)) {
          const node = known ?? this.nodes.resolve(h.node, name, st, undefined);
          node.nlookup++;
          this.putEntry(out, o, node, st);
        }
        d += ENTRY_OUT;
      }
      put64(out, d, known?.ino || (st ? st[ST.ino]! : 0));
      put64(out, d + 8, i + 1);
      out.writeUInt32LE(nameBytes, d + 16);
      out.writeUInt32LE(st ? (st[ST.mode]! >>> 12) & 15 : 0, d + 20);
      out.write(name, d + 24);
      o += padded;
    }
    this.send(req, out, o);
  }
}

/** A removed directory still in use: its last attributes, no links. */
function removedDir(st: StatBuf): StatBuf {
  const out = st.slice();
  out[ST.nlink] = 0;
  return out;
}

function removedListing(node: Node): { names: string[]; stats: StatBuf[] } {
  const st = removedDir(node.lastStat ?? new Float64Array(16));
  return { names: ['.', '..'], stats: [st, st] };
}

/**
 * A SETATTR that changes none of the attributes the protocol carries is what
 * FUSE makes of chown(f, -1, -1): the kernel only meant to touch the ctime
 * (and drop a file capability). Overlayfs copies the file up and passes that
 * on to the upper file; chown(-1, -1) there does both.
 */
function ctimeOnly(valid: number): boolean {
  return (valid & (FATTR.MODE | FATTR.UID | FATTR.GID | FATTR.SIZE | FATTR.ATIME | FATTR.MTIME)) === 0;
}

/** atime and mtime of a SETATTR request, as utimensat takes them. */
function times(b: Buffer, valid: number): [[number, number], [number, number]] {
  const one = (set: number, now: number, sec: number, nsec: number): [number, number] =>
    !(valid & set) ? [0, UTIME_OMIT] : valid & now ? [0, UTIME_NOW] : [s64(b, IN_HEADER + sec), b.readUInt32LE(IN_HEADER + nsec)];
  return [one(FATTR.ATIME, FATTR.ATIME_NOW, 32, 56), one(FATTR.MTIME, FATTR.MTIME_NOW, 40, 60)];
}
