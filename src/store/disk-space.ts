/**
 * Free space on the store's filesystem, as an import spends it. An import
 * asks before it writes (a file's declared size, a blob's next chunk) and is
 * stopped with a NoSpaceError, saying how much it needed, before it would
 * leave less than the reserve free: a full disk breaks every other writer on
 * it, and a 1 MB archive can claim to hold a terabyte.
 *
 * The reserve is LAYERFS_RESERVE (bytes, or with a k/M/G/T suffix), else the
 * smaller of 1 GiB and 5% of the filesystem.
 */
import { statfs } from 'node:fs/promises';
import { NoSpaceError, UsageError } from '../errors.js';

const GiB = 2 ** 30;

/**
 * `512M`, `2G`, `64m`, `1048576` → bytes (powers of 1024, as df -h and docker
 * mean them). `flag` names a command-line flag in the error.
 */
export function parseBytes(text: string, flag?: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) {
    throw new UsageError(flag ? `invalid ${flag} '${text}': expected a size such as 64m or 1g` : `invalid size '${text}': use bytes or a number with k, M, G or T`);
  }
  return Math.floor(Number(m[1]) * 1024 ** ' kmgtp'.indexOf((m[2] || ' ').toLowerCase()));
}

/** 1.5 GiB, 3 MiB, 512 B: how the messages say sizes. */
export function bytesText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))} ${units[i]}`;
}

export interface FsSpace {
  /** Bytes an unprivileged writer may still use (f_bavail). */
  free: number;
  total: number;
}

export async function spaceOf(dir: string): Promise<FsSpace> {
  const s = await statfs(dir);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

export function reserveFor(total: number, env = process.env.LAYERFS_RESERVE): number {
  if (env !== undefined && env !== '') return parseBytes(env);
  return Math.min(GiB, Math.floor(total * 0.05));
}

/** Re-reads the free space after this much was spent since the last look (others write too). */
const RECHECK = 64 * 2 ** 20;

export class SpaceBudget {
  /** Spent since `free` was read. */
  private spent = 0;
  /** Spent in all. */
  private total = 0;

  private constructor(
    readonly dir: string,
    readonly reserve: number,
    private free: number,
  ) {}

  static async of(dir: string, reserve?: number): Promise<SpaceBudget> {
    const s = await spaceOf(dir);
    return new SpaceBudget(dir, reserve ?? reserveFor(s.total), s.free);
  }

  /** What may still be written: the free space above the reserve, as last seen. */
  get headroom(): number {
    return Math.max(0, this.free - this.reserve - this.spent);
  }

  /** Asks for `bytes` about to be written for `what`; throws NoSpaceError when they would eat into the reserve. */
  async need(bytes: number, what: string): Promise<void> {
    if (bytes > this.headroom || this.spent + bytes > RECHECK) {
      this.free = (await spaceOf(this.dir)).free;
      this.spent = 0;
    }
    if (bytes > this.headroom) {
      const needed = this.total + bytes;
      throw new NoSpaceError(
        `${what}: not enough space on ${this.dir}: the import needs at least ${bytesText(needed)} (${bytesText(bytes)} more), ` +
          `${bytesText(this.free)} is free and ${bytesText(this.reserve)} stays in reserve (LAYERFS_RESERVE)`,
        { dir: this.dir, needed, free: this.free, reserve: this.reserve },
      );
    }
    this.spent += bytes;
    this.total += bytes;
  }
}
