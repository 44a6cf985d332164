/**
 * How each open file's I/O is done (native-notes/fuse-engine.md,
 * "Passthrough"): by the kernel on a backing file (FUSE passthrough), or by
 * C on our fd, through the page cache or direct.
 *
 * The kernel's rules shape it: one backing file per inode while any
 * passthrough open of it lives, every open of such an inode in passthrough,
 * no cached open beside a passthrough one. So the nodes here hold either
 * cached opens or one shared backing, never both; an open whose fd is
 * another file than the backing (a writer after copy-up, beside readers of
 * the lower file) names the backing with direct I/O: its reads and writes
 * come to C on its own fd; only an mmap of it would map the readers' file.
 */
import { errnoOf } from '../errors.js';
import { fstat, S_IFREG, ST } from '../sys.js';
import { native } from './engine-native.js';
import type { Node } from './nodes.js';
import { FOPEN } from './protocol.js';

type IoMode = 'passthrough' | 'cached' | 'direct';

const OPEN_FLAGS: Record<IoMode, number> = {
  passthrough: FOPEN.PASSTHROUGH, direct: FOPEN.PASSTHROUGH | FOPEN.DIRECT_IO, cached: FOPEN.KEEP_CACHE,
};

/**
 * Files opened read-only pass through from this size on: setting a backing
 * file up costs the kernel an open of its own, more than the page cache
 * costs a small file.
 */
const PASSTHROUGH_MIN = 64 * 1024;

/** A backing file: its id with the kernel, its identity, the opens sharing it. */
interface Backing { id: number; file: string; opens: number }

export class IoModes {
  private readonly byFh = new Map<number, IoMode>();
  private readonly backings = new Map<Node, Backing>();
  private readonly cachedOpens = new Map<Node, number>();

  /** `passthrough`: negotiated at INIT (and not turned off). */
  constructor(private passthrough: boolean) {}

  /** The mode of a new open of `node` on `fd`: its FOPEN flags and backing id. */
  opened(devfd: number, node: Node, fd: number, writable: boolean): { flags: number; backingId: number } {
    const [mode, backingId] = this.choose(devfd, node, fd, writable);
    this.byFh.set(fd, mode);
    return { flags: OPEN_FLAGS[mode], backingId };
  }

  released(devfd: number, node: Node, fh: number): void {
    const mode = this.byFh.get(fh);
    this.byFh.delete(fh);
    if (mode === 'cached') {
      const n = (this.cachedOpens.get(node) ?? 1) - 1;
      if (n > 0) this.cachedOpens.set(node, n);
      else this.cachedOpens.delete(node);
    } else if (mode !== undefined) {
      const backing = this.backings.get(node)!;
      if (--backing.opens === 0) {
        this.backings.delete(node);
        native.backingClose(devfd, backing.id);
      }
    }
  }

  private choose(devfd: number, node: Node, fd: number, writable: boolean): [IoMode, number] {
    if (!this.passthrough || node.type !== S_IFREG) return this.cached(node);
    const backing = this.backings.get(node);
    const st = fstat(fd);
    const file = `${st[ST.dev]}:${st[ST.ino]}`;
    if (backing !== undefined) {
      backing.opens++;
      return [backing.file === file ? 'passthrough' : 'direct', backing.id];
    }
    if (this.cachedOpens.has(node) || (!writable && st[ST.size]! < PASSTHROUGH_MIN)) return this.cached(node);
    const id = native.backingOpen(devfd, fd);
    if (id < 0) {
      // Without CAP_SYS_ADMIN nothing will pass; otherwise only this file (stacked, odd type).
      if (id === -errnoOf('EPERM')) this.passthrough = false;
      return this.cached(node);
    }
    this.backings.set(node, { id, file, opens: 1 });
    return ['passthrough', id];
  }

  private cached(node: Node): [IoMode, number] {
    this.cachedOpens.set(node, (this.cachedOpens.get(node) ?? 0) + 1);
    return ['cached', 0];
  }
}
