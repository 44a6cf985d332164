/**
 * layerfs's binding over the patched fuse-native addon (native-notes/fuse-native.md).
 *
 * Each libfuse worker thread owns a "slot": a Uint8Array that holds the C
 * thread locals (the caller's uid/gid/pid/umask come first) and, on the JS
 * side, the state of the one request that thread is blocked on. A request
 * arrives as handler(slot, op, ...args); the slot is answered exactly once with
 * native.fuse_native_signal_<op>(slot, result, ...). This is the only place
 * where an error becomes an errno (toErrno); nothing here times out.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { access, constants, readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { unmountFuse, type StatBuf } from '../sys.js';
import { FsError, LayerfsError, toErrno } from '../errors.js';

type MaybePromise<T> = T | Promise<T>;

/**
 * Who made the request. Valid until the handler settles: copy what you keep.
 * umask is only sent with create, mknod and mkdir (0 otherwise); the kernel has
 * already applied it to their mode.
 */
export interface Caller { readonly uid: number; readonly gid: number; readonly pid: number; readonly umask: number }

export interface Statfs {
  bsize: number; frsize: number; blocks: number; bfree: number; bavail: number;
  files: number; ffree: number; favail: number; fsid: number; flag: number; namemax: number;
}

/**
 * Every handler may return a value, a Promise, or throw (any error). Handlers
 * not given are not registered with libfuse. With `passthrough`, read, write
 * and fsync are served in C on the fh that open/create returned (a real fd),
 * and `flush`, if given, only switches on a C flush (close(dup(fh))).
 */
export interface FuseOps {
  init?(): MaybePromise<void>;
  statfs?(path: string, c: Caller): MaybePromise<Statfs>;
  getattr(path: string, c: Caller): MaybePromise<StatBuf>;
  /**
   * getattr with the file's identity (layerfs's engine): `shared` names an
   * upper file, which other paths may reach too (hard links), so that they
   * share one node.
   */
  lookup?(path: string, c: Caller): MaybePromise<{ stat: StatBuf; shared?: string }>;
  /** Whether an fd open returned is the upper layer's file (safe to change through). */
  onUpper?(fh: number): boolean;
  fgetattr?(path: string, fh: number, c: Caller): MaybePromise<StatBuf>;
  access?(path: string, mode: number, c: Caller): MaybePromise<void>;
  /** Names (add '.' and '..' yourself if you want them listed); stats, if given, one per name. */
  readdir(path: string, c: Caller): MaybePromise<{ names: string[]; stats?: StatBuf[] }>;
  opendir?(path: string, flags: number, c: Caller): MaybePromise<number>;
  releasedir?(path: string, fh: number): MaybePromise<void>;
  /** Returns the fh: a non-negative int32 (a real fd in passthrough mode). */
  open(path: string, flags: number, c: Caller): MaybePromise<number>;
  create(path: string, mode: number, flags: number, c: Caller): MaybePromise<number>;
  /** `buf` is FUSE's own memory, valid until the handler settles. */
  read?(path: string, fh: number, buf: Buffer, len: number, pos: number): MaybePromise<number>;
  write?(path: string, fh: number, buf: Buffer, len: number, pos: number): MaybePromise<number>;
  release?(path: string, fh: number): MaybePromise<void>;
  fsync?(path: string, datasync: boolean, fh: number): MaybePromise<void>;
  fsyncdir?(path: string, datasync: boolean, fh: number): MaybePromise<void>;
  flush?(path: string, fh: number): MaybePromise<void>;
  truncate?(path: string, size: number, c: Caller): MaybePromise<void>;
  ftruncate?(path: string, fh: number, size: number, c: Caller): MaybePromise<void>;
  /** nsec may be UTIME_NOW or UTIME_OMIT (see sys.ts). */
  utimens?(path: string, atime: [sec: number, nsec: number], mtime: [sec: number, nsec: number], c: Caller): MaybePromise<void>;
  readlink?(path: string, c: Caller): MaybePromise<string>;
  chown?(path: string, uid: number, gid: number, c: Caller): MaybePromise<void>;
  chmod?(path: string, mode: number, c: Caller): MaybePromise<void>;
  mknod?(path: string, mode: number, dev: number, c: Caller): MaybePromise<void>;
  mkdir?(path: string, mode: number, c: Caller): MaybePromise<void>;
  rmdir?(path: string, c: Caller): MaybePromise<void>;
  unlink?(path: string, c: Caller): MaybePromise<void>;
  rename?(from: string, to: string, c: Caller): MaybePromise<void>;
  link?(existing: string, newPath: string, c: Caller): MaybePromise<void>;
  symlink?(target: string, path: string, c: Caller): MaybePromise<void>;
  setxattr?(path: string, name: string, value: Buffer, flags: number, c: Caller): MaybePromise<void>;
  /** null: not set (ENODATA). The size query and ERANGE are handled here. */
  getxattr?(path: string, name: string, c: Caller): MaybePromise<Buffer | null>;
  listxattr?(path: string, c: Caller): MaybePromise<string[]>;
  removexattr?(path: string, name: string, c: Caller): MaybePromise<void>;
}

export interface FuseMountOptions { options: string[]; passthrough?: boolean; log?: (msg: string) => void }

export interface FuseMount {
  readonly mountpoint: string;
  /** Resolves once the kernel connection ended (our unmount or `umount` from outside). */
  readonly closed: Promise<void>;
  unmount(): Promise<void>;
}

type Signal = (slot: Slot, res: number, ...rest: unknown[]) => void;
type Result = (slot: Slot, value: any) => void;

interface Native {
  sizeof_fuse_thread_t: number;
  fuse_native_mount(mnt: string, opts: string, ft: Buffer, ctx: object, malloc: (size: number) => Slot,
    handlers: Function[], implemented: Uint32Array, passthrough: boolean, onClosed: () => void): void;
  [name: string]: unknown;
}

// The addon built from source by scripts/build-native.js (never a prebuild).
// fuse-native is an optional dependency: when the install could not patch and
// build it, importing this module (engine=fuse-native) fails with the reason
// the install wrote to native/build/fuse-native.json.
const native = loadNative();

function loadNative(): Native {
  let why: string | undefined;
  try {
    const status = JSON.parse(readFileSync(new URL('../../native/build/fuse-native.json', import.meta.url), 'utf8')) as { ok: boolean; reason?: string };
    if (!status.ok) why = status.reason;
  } catch { /* no status (built before it existed): try the addon */ }
  if (why === undefined) {
    try {
      return createRequire(import.meta.url)('fuse-native/build/Release/fuse.node') as Native;
    } catch (err) {
      why = `cannot load fuse-native/build/Release/fuse.node: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  throw new LayerfsError('ENGINE_UNAVAILABLE',
    `engine=fuse-native is unavailable: ${why}; the default engine (engine=layerfs) does not need it`, { engine: 'fuse-native', reason: why });
}
const op = (name: string) => native[`op_${name}`] as number;
const signalOf = (name: string) => native[`fuse_native_signal_${name}`] as Signal;

const ERANGE = -34;
const ENODATA = -61;

/** One libfuse worker thread: its C locals, its caller, its request in flight. */
class Slot extends Uint8Array implements Caller {
  private readonly ids: Uint32Array;
  signal: Signal = signalOf('getattr');
  result: Result = answerVoid;
  /** FUSE memory lent to JS for this request (read/write/xattr), detached when answered. */
  buf: Buffer | undefined = undefined;
  size = 0;

  constructor(size: number, private readonly log: (msg: string) => void) {
    super(size);
    this.ids = new Uint32Array(this.buffer, this.byteOffset, 4);
  }

  get uid() { return this.ids[0]!; }
  get gid() { return this.ids[1]!; }
  get pid() { return this.ids[2]!; }
  get umask() { return this.ids[3]!; }

  begin(signal: Signal, result: Result, buf?: Buffer, size = 0): void {
    this.sync = true;
    this.signal = signal;
    this.result = result;
    this.buf = buf;
    this.size = size;
  }

  /** Whether the handler answered before returning (its answer is the state right now). */
  sync = true;

  /** Answers with whatever the handler returned, now or when its promise settles. */
  settle(value: unknown): void {
    this.sync = !(value instanceof Promise);
    if (this.sync) this.ok(value);
    else (value as Promise<unknown>).then(this.ok, this.fail);
  }

  // A signal throws only before it answered (bad result types), so fail() never answers twice.
  readonly ok = (value: unknown): void => {
    try {
      this.result(this, value);
    } catch (err) {
      this.fail(err);
    }
  };

  readonly fail = (err: unknown): void => {
    this.signal(this, toErrno(err, this.log), this.buf, this.sync);
  };
}

// How each kind of result is answered.
function answerVoid(s: Slot): void { s.signal(s, 0, s.buf); }
function answerStat(s: Slot, st: StatBuf): void {
  if (!(st instanceof Float64Array) || st.length < 16) throw new TypeError(`expected a StatBuf (Float64Array(16)), got ${st}`);
  s.signal(s, 0, st);
}
function answerLink(s: Slot, target: string): void {
  if (typeof target !== 'string') throw new TypeError(`readlink must return a string, got ${target}`);
  s.signal(s, 0, target);
}
function answerStatfs(s: Slot, v: Statfs): void {
  s.signal(s, 0, Float64Array.of(v.bsize, v.frsize, v.blocks, v.bfree, v.bavail, v.files, v.ffree, v.favail, v.fsid, v.flag, v.namemax));
}
function answerHandle(s: Slot, fh: number): void {
  if (!Number.isInteger(fh) || fh < 0 || fh > 0x7fffffff) throw new TypeError(`fh must be a non-negative int32, got ${fh}`);
  s.signal(s, fh);
}
/** A change done, with the path's new stat (or null) for the getattr libfuse asks next (see keep_stat in C). */
function answerChanged(s: Slot, st: StatBuf | null): void { s.signal(s, 0, st); }
function answerCreated(s: Slot, v: { fh: number; st: StatBuf | null }): void {
  if (!Number.isInteger(v.fh) || v.fh < 0 || v.fh > 0x7fffffff) throw new TypeError(`fh must be a non-negative int32, got ${v.fh}`);
  s.signal(s, v.fh, v.st);
}

/** f after v, now or when v's promise settles. */
function after<T, U>(v: MaybePromise<T>, f: (x: T) => U): MaybePromise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}
function answerCount(s: Slot, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > s.size) throw new TypeError(`byte count must be 0..${s.size}, got ${n}`);
  s.signal(s, n, s.buf);
}
function answerDir(s: Slot, d: { names: string[]; stats?: StatBuf[] }): void {
  const n = d.names.length;
  const names = Buffer.from(n === 0 ? '' : d.names.join('\0') + '\0');
  let stats: Float64Array | null = null;
  if (d.stats) {
    if (d.stats.length !== n) throw new TypeError(`readdir: ${n} names but ${d.stats.length} stats`);
    stats = new Float64Array(16 * n);
    for (let i = 0; i < n; i++) stats.set(d.stats[i]!, 16 * i);
  }
  s.signal(s, 0, names, stats);
}
/** Copies a value into FUSE's buffer; size 0 asks only for the length. */
function answerBytes(s: Slot, value: Buffer): void {
  if (s.size > 0 && value.length > s.size) return s.signal(s, ERANGE, s.buf);
  if (s.size > 0) value.copy(s.buf!);
  s.signal(s, value.length, s.buf);
}
/** A synchronous "not set" may be remembered by C for security.capability (see nocaps in C). */
function answerXattr(s: Slot, value: Buffer | null): void {
  if (value === null) return s.signal(s, ENODATA, s.buf, s.sync);
  answerBytes(s, value);
}
function answerXattrList(s: Slot, names: string[]): void {
  answerBytes(s, Buffer.from(names.map((n) => n + '\0').join('')));
}

type Call = (l: Slot, a: any, b: any, c: any, d: any, e: any) => unknown;

/**
 * The function C calls for one op: (slot, op, ...args in fuse-native.c's
 * order). Fixed arity, no closure per request. `lent` names the argument that
 * is FUSE memory (read/write/xattr buffers).
 */
function handler(signal: Signal, result: Result, call: Call, lent?: 'b' | 'c'): Function {
  return (l: Slot, _op: number, a: any, b: any, c: any, d: any, e: any) => {
    const buf: Buffer | undefined = lent === undefined ? undefined : lent === 'b' ? b : c;
    l.begin(signal, result, buf, buf === undefined ? 0 : buf.length);
    try {
      l.settle(call(l, a, b, c, d, e));
    } catch (err) {
      l.fail(err);
    }
  };
}

const noop = () => {};

function makeHandlers(o: FuseOps, passthrough: boolean): { handlers: Function[]; implemented: Uint32Array } {
  const handlers: Function[] = new Array(35).fill(noop);
  const implemented = new Uint32Array(35);
  const reg = (name: string, present: unknown, result: Result, call: Call, lent?: 'b' | 'c') => {
    if (present === undefined) return;
    handlers[op(name)] = handler(signalOf(name), result, call, lent);
    implemented[op(name)] = 1;
  };
  const inC = (name: string, present: unknown) => {
    if (present !== undefined) implemented[op(name)] = 1;
  };
  // The stat of a path just changed, sent along with the answer (or null: libfuse then asks as usual).
  const statOf = (p: string, l: Slot, fh?: number): StatBuf | null => {
    try {
      const st = fh !== undefined && o.fgetattr ? o.fgetattr(p, fh, l) : o.getattr(p, l);
      if (st instanceof Promise) st.catch(() => {});
      return st instanceof Float64Array && st.length >= 16 ? st : null;
    } catch {
      return null;
    }
  };
  const changed = (done: MaybePromise<void>, p: string, l: Slot, fh?: number) => after(done, () => statOf(p, l, fh));

  reg('init', o.init, answerVoid, () => o.init!());
  reg('statfs', o.statfs, answerStatfs, (l, p) => o.statfs!(p, l));
  reg('getattr', o.getattr, answerStat, (l, p) => o.getattr(p, l));
  reg('fgetattr', o.fgetattr, answerStat, (l, p, fh) => o.fgetattr!(p, fh, l));
  reg('access', o.access, answerVoid, (l, p, mode) => o.access!(p, mode, l));
  reg('readdir', o.readdir, answerDir, (l, p) => o.readdir(p, l));
  reg('opendir', o.opendir, answerHandle, (l, p, _fh, flags) => o.opendir!(p, flags, l));
  reg('releasedir', o.releasedir, answerVoid, (_l, p, fh) => o.releasedir!(p, fh));
  reg('open', o.open, answerHandle, (l, p, flags) => o.open(p, flags, l));
  reg('create', o.create, answerCreated, (l, p, mode, flags) => after(o.create(p, mode, flags, l), (fh) => ({ fh, st: statOf(p, l, fh) })));
  reg('release', o.release, answerVoid, (_l, p, fh) => o.release!(p, fh));
  if (passthrough) {
    inC('read', true);
    inC('write', true);
    inC('fsync', true);
    inC('flush', o.flush);
  } else {
    reg('read', o.read, answerCount, (_l, p, fh, buf, len, pos) => o.read!(p, fh, buf, len, pos), 'c');
    reg('write', o.write, answerCount, (_l, p, fh, buf, len, pos) => o.write!(p, fh, buf, len, pos), 'c');
    reg('fsync', o.fsync, answerVoid, (_l, p, ds, fh) => o.fsync!(p, ds !== 0, fh));
    reg('flush', o.flush, answerVoid, (_l, p, fh) => o.flush!(p, fh));
  }
  reg('fsyncdir', o.fsyncdir, answerVoid, (_l, p, ds, fh) => o.fsyncdir!(p, ds !== 0, fh));
  reg('truncate', o.truncate, answerChanged, (l, p, size) => changed(o.truncate!(p, size, l), p, l));
  reg('ftruncate', o.ftruncate, answerChanged, (l, p, fh, size) => changed(o.ftruncate!(p, fh, size, l), p, l, fh));
  reg('utimens', o.utimens, answerChanged, (l, p, as, ans, ms, mns) => changed(o.utimens!(p, [as, ans], [ms, mns], l), p, l));
  reg('readlink', o.readlink, answerLink, (l, p) => o.readlink!(p, l));
  reg('chown', o.chown, answerChanged, (l, p, uid, gid) => changed(o.chown!(p, uid, gid, l), p, l));
  reg('chmod', o.chmod, answerChanged, (l, p, mode) => changed(o.chmod!(p, mode, l), p, l));
  reg('mknod', o.mknod, answerChanged, (l, p, mode, dev) => changed(o.mknod!(p, mode, dev, l), p, l));
  reg('mkdir', o.mkdir, answerChanged, (l, p, mode) => changed(o.mkdir!(p, mode, l), p, l));
  reg('rmdir', o.rmdir, answerVoid, (l, p) => o.rmdir!(p, l));
  reg('unlink', o.unlink, answerVoid, (l, p) => o.unlink!(p, l));
  reg('rename', o.rename, answerVoid, (l, from, to) => o.rename!(from, to, l));
  reg('link', o.link, answerChanged, (l, existing, to) => changed(o.link!(existing, to, l), to, l));
  reg('symlink', o.symlink, answerChanged, (l, target, p) => changed(o.symlink!(target, p, l), p, l));
  reg('setxattr', o.setxattr, answerVoid, (l, p, name, value, _pos, flags) => o.setxattr!(p, name, value, flags, l), 'c');
  reg('getxattr', o.getxattr, answerXattr, (l, p, name) => o.getxattr!(p, name, l), 'c');
  reg('listxattr', o.listxattr, answerXattrList, (l, p) => o.listxattr!(p, l), 'b');
  reg('removexattr', o.removexattr, answerVoid, (l, p, name) => o.removexattr!(p, name, l));
  return { handlers, implemented };
}

/** libfuse splits options on ','; a comma or backslash inside one is escaped. */
const optionString = (options: string[]) =>
  options.length === 0 ? '' : '-o' + options.map((o) => o.replace(/[\\,]/g, '\\$&')).join(',');

/** Checks what libfuse would only report on stderr, to fail with the mountpoint named. */
async function checkMountpoint(mnt: string, options: string[]): Promise<void> {
  const st = await stat(mnt).catch((err: NodeJS.ErrnoException) => {
    const detail = err.code === 'ENOTCONN' ? 'a dead FUSE mount is still there; unmount it first' : undefined;
    throw new FsError(err.code ?? 'EIO', 'mount', mnt, detail);
  });
  if (!st.isDirectory()) throw new FsError('ENOTDIR', 'mount', mnt, 'mountpoint is not a directory');
  if (!options.includes('nonempty') && (await readdir(mnt)).length > 0) {
    throw new FsError('ENOTEMPTY', 'mount', mnt, 'mountpoint is not empty (the nonempty option allows it)');
  }
  await access('/dev/fuse', constants.R_OK | constants.W_OK).catch((err: NodeJS.ErrnoException) => {
    throw new FsError(err.code ?? 'ENODEV', 'mount', mnt, `cannot use /dev/fuse (${err.code})`);
  });
}

class Mount implements FuseMount {
  private ended = false;
  constructor(
    readonly mountpoint: string,
    readonly closed: Promise<void>,
    // The C side lives in this Buffer; keep it reachable while mounted.
    private readonly thread: Buffer,
  ) {
    void this.thread;
    closed.then(() => (this.ended = true));
  }

  async unmount(): Promise<void> {
    if (!this.ended) await unmountFuse(this.mountpoint);
    await this.closed;
  }
}

/**
 * Mounts `ops` at `mountpoint`. Resolves once the kernel mount exists; the
 * process stays alive while it does. Requests are served on this thread, so
 * do not touch the mount with synchronous fs calls from this process.
 */
export async function mountFuse(mountpoint: string, ops: FuseOps, opts: FuseMountOptions): Promise<FuseMount> {
  const mnt = resolve(mountpoint);
  await checkMountpoint(mnt, opts.options);
  const log = opts.log ?? ((msg: string) => process.stderr.write(msg + '\n'));
  const passthrough = opts.passthrough ?? false;
  const { handlers, implemented } = makeHandlers(ops, passthrough);
  const thread = Buffer.alloc(native.sizeof_fuse_thread_t);
  let onClosed!: () => void;
  const closed = new Promise<void>((res) => (onClosed = res));
  try {
    native.fuse_native_mount(mnt, optionString(opts.options), thread, {}, (size) => new Slot(size, log),
      handlers, implemented, passthrough, onClosed);
  } catch (err) {
    throw new LayerfsError('FUSE_MOUNT', `${mnt}: cannot mount FUSE filesystem (${(err as Error).message}; ` +
      `options ${opts.options.join(',') || 'none'}; libfuse printed the reason on stderr)`, { mountpoint: mnt, options: opts.options });
  }
  return new Mount(mnt, closed, thread);
}
