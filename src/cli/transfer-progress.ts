/**
 * Docker-style output of pull and push: one line per layer, keyed by its
 * short digest. On a terminal the lines are cli-progress bars redrawn in
 * place (a bar while bytes move, the state otherwise); elsewhere only
 * settled states are printed, one line each:
 *   31cbccb51277: Pull complete
 *   511136ea3c5a: Already exists
 */
import cliProgress, { type MultiBar, type SingleBar } from 'cli-progress';
import { shortId } from '../oci/digest.js';
import type { LayerState, ProgressListener, TransferEvent } from '../registry/events.js';
import { humanSize } from './format.js';

export interface ProgressOutput {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const TEXT: Record<LayerState, string> = {
  exists: 'Already exists',
  waiting: 'Waiting',
  retrying: 'Retrying',
  downloaded: 'Download complete',
  extracting: 'Extracting',
  pulled: 'Pull complete',
  preparing: 'Preparing',
  mounted: 'Layer already exists',
  pushed: 'Pushed',
};
/** States that are printed when the output is not a terminal. */
const SETTLED = new Set<LayerState>(['exists', 'pulled', 'mounted', 'pushed']);

interface Line {
  id: string;
  text: string;
  bytes?: { verb: string };
}

const BAR = { barsize: 50, barCompleteChar: '=', barIncompleteChar: ' ', barGlue: '>' };

/** `[=====>     ] 1.5kB/3kB`, docker's bar, drawn by cli-progress's bar formatter. */
export function progressBar(done: number, total: number): string {
  const progress = total > 0 ? Math.min(1, done / total) : 0;
  const opts = { ...BAR, barCompleteString: '='.repeat(BAR.barsize), barIncompleteString: ' '.repeat(BAR.barsize) };
  return `[${cliProgress.Format.BarFormat(progress, opts as never)}] ${humanSize(done, 4)}/${humanSize(total, 4)}`;
}

export class LayerProgress {
  private bars: MultiBar | null = null;
  private readonly lines = new Map<string, SingleBar>();
  private readonly tty: boolean;

  constructor(private readonly out: ProgressOutput) {
    this.tty = out.isTTY === true;
  }

  /** cli-progress merges payloads: every update names all of Line's keys, `bytes` included. */
  private line(id: string, line: Line, value = 0, total = 1): void {
    if (!this.bars) {
      this.bars = new cliProgress.MultiBar({
        stream: this.out as NodeJS.WritableStream,
        format: (_o: unknown, params: { value: number; total: number }, payload: Line) =>
          payload.bytes ? `${payload.id}: ${payload.bytes.verb} ${progressBar(params.value, params.total)}` : `${payload.id}: ${payload.text}`,
        hideCursor: false,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: false,
        gracefulExit: false, // its SIGINT handler would keep Ctrl-C from ending a pull
        linewrap: false,
      });
    }
    const bar = this.lines.get(id);
    if (bar) {
      bar.setTotal(total);
      bar.update(value, line);
    } else this.lines.set(id, this.bars.create(total, value, line));
  }

  /** A settled state: printed on every kind of output. */
  done(id: string, text: string): void {
    if (this.tty) this.line(id, { id, text, bytes: undefined });
    else this.out.write(`${id}: ${text}\n`);
  }

  /** A passing state ("Waiting", "Download complete"): shown on a terminal only. */
  status(id: string, text: string): void {
    if (this.tty) this.line(id, { id, text, bytes: undefined });
  }

  bytes(id: string, verb: string, done: number, total: number): void {
    if (this.tty) this.line(id, { id, text: verb, bytes: { verb } }, done, total);
  }

  /** A line after the layer lines (Digest:, Status:): the layer lines are drawn one last time and left. */
  print(text: string): void {
    if (this.bars) {
      this.bars.update();
      this.bars.stop();
      this.bars = null;
      this.lines.clear();
    }
    this.out.write(`${text}\n`);
  }

  /** Turns the library's events into lines, as docker prints them. */
  listener(): ProgressListener {
    return (e: TransferEvent) => {
      switch (e.type) {
        case 'layer': {
          const text = e.state === 'retrying' ? `Retrying from ${e.offset ?? 0} bytes` : TEXT[e.state];
          if (SETTLED.has(e.state)) this.done(shortId(e.digest), text);
          else this.status(shortId(e.digest), text);
          break;
        }
        case 'bytes':
          this.bytes(shortId(e.digest), e.direction === 'down' ? 'Downloading' : 'Pushing', e.done, e.total);
          break;
        case 'push-start':
          this.print(`The push refers to repository [${e.repository}]`);
          break;
        case 'push-done':
          this.print(`${e.tag}: digest: ${e.digest} size: ${e.size}`);
          break;
        case 'pull-done':
          this.print(`Digest: ${e.digest}`);
          this.print(`Status: ${e.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${e.ref}`);
          break;
      }
    };
  }
}
