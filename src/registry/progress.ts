/**
 * Docker-style per-layer progress: one line per layer, keyed by its short
 * digest. On a TTY the lines are redrawn in place (a bar while bytes move);
 * otherwise only settled states are printed, one line each, as in
 *   31cbccb51277: Pull complete
 *   511136ea3c5a: Already exists
 */
import { humanSize } from '../cli/format.js';

export interface ProgressOutput {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR = 50;


export function progressBar(done: number, total: number): string {
  const filled = total > 0 ? Math.min(BAR, Math.floor((done / total) * BAR)) : 0;
  const arrow = filled < BAR ? '>' : '';
  return `[${'='.repeat(filled)}${arrow}${' '.repeat(BAR - filled - arrow.length)}] ${humanSize(done, 4)}/${humanSize(total, 4)}`;
}

export class LayerProgress {
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  private lastDraw = 0;
  /** A throttled update not yet on screen. */
  private dirty = false;
  private readonly tty: boolean;

  constructor(private readonly out: ProgressOutput) {
    this.tty = out.isTTY === true;
  }

  /** A settled state: printed on every kind of output. */
  done(id: string, status: string): void {
    this.lines.set(id, `${id}: ${status}`);
    if (this.tty) this.draw(true);
    else this.out.write(`${id}: ${status}\n`);
  }

  /** A passing state ("Waiting", "Verifying Checksum"): shown on a TTY only. */
  status(id: string, status: string): void {
    if (!this.tty) return;
    this.lines.set(id, `${id}: ${status}`);
    this.draw(true);
  }

  bytes(id: string, verb: string, done: number, total: number): void {
    if (!this.tty) return;
    this.lines.set(id, `${id}: ${verb} ${progressBar(done, total)}`);
    this.draw(false);
  }

  /** A line after the layer lines (Digest:, Status:). */
  print(text: string): void {
    if (this.tty && this.dirty) this.draw(true);
    this.out.write(`${text}\n`);
    this.lines.clear();
    this.drawn = 0;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    this.dirty = true;
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.dirty = false;
    const width = Math.max(20, (this.out.columns || 120) - 1);
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const line of this.lines.values()) s += `\x1b[2K${line.slice(0, width)}\n`;
    this.out.write(s);
    this.drawn = this.lines.size;
  }
}
