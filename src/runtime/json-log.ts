/**
 * A container's output in docker's json-file shape, one JSON object a line:
 *
 *   {"log":"hello\n","stream":"stdout","time":"2026-11-28T03:04:05.123456789Z"}
 *
 * A line is cut at its newline (kept in "log") or at 16 KiB, as dockerd does;
 * a last line without a newline is written as it is. With a max size the
 * file rotates: container-json.log → .1 → .2 … up to max-file files in all
 * (max-file 1: the file starts over).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import type { LogConfig } from './containers.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry { log: string; stream: LogStream; time: string }

const MAX_LINE = 16 * 1024;

// Date has milliseconds only: nanoseconds come from the monotonic clock, anchored once.
const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** The time now as RFC 3339 with nanoseconds (trailing zeros dropped, as Go's RFC3339Nano). */
export function nowRfc3339Nano(): string {
  const ns = originNs + process.hrtime.bigint();
  const iso = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${frac ? `.${frac}` : ''}Z`;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** `--log-opt max-size=10m --log-opt max-file=3` (docker's json-file options). */
export function parseLogOpts(opts: string[]): LogConfig {
  const config: LogConfig = { maxFile: 1 };
  for (const opt of opts) {
    const [key, value = ''] = opt.split(/=(.*)/s);
    if (key === 'max-size') {
      const m = /^(\d+)([a-z]*)$/i.exec(value);
      const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
      if (!m || unit === undefined || Number(m[1]) <= 0) throw new UsageError(`invalid --log-opt max-size '${value}': use a size like 10k, 5m or 1g`);
      config.maxSize = Number(m[1]) * unit;
    } else if (key === 'max-file') {
      if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`invalid --log-opt max-file '${value}': use a positive number`);
      config.maxFile = Number(value);
    } else throw new UsageError(`unknown --log-opt '${key}' (json-file takes max-size and max-file)`);
  }
  if (config.maxFile > 1 && config.maxSize === undefined) throw new UsageError('--log-opt max-file needs max-size');
  return config;
}

/** The log files, oldest first. */
export function logFiles(path: string, config: LogConfig): string[] {
  const rotated = Array.from({ length: config.maxFile - 1 }, (_, i) => `${path}.${config.maxFile - 1 - i}`);
  return [...rotated, path].filter((f) => existsSync(f));
}

export class JsonFileLog {
  private fd: number;
  private size: number;
  private readonly pending: Record<LogStream, string> = { stdout: '', stderr: '' };

  constructor(readonly path: string, private readonly config: LogConfig) {
    this.fd = openSync(path, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  /** Logs everything `source` says until it ends. */
  follow(stream: LogStream, source: Readable): Promise<void> {
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => this.add(stream, chunk));
    return new Promise((resolve) => source.on('close', () => {
      this.flush(stream);
      resolve();
    }));
  }

  add(stream: LogStream, text: string): void {
    let buf = this.pending[stream] + text;
    for (let nl = buf.indexOf('\n'); nl >= 0 || buf.length >= MAX_LINE; nl = buf.indexOf('\n')) {
      const end = nl >= 0 && nl < MAX_LINE ? nl + 1 : MAX_LINE;
      this.write({ log: buf.slice(0, end), stream, time: nowRfc3339Nano() });
      buf = buf.slice(end);
    }
    this.pending[stream] = buf;
  }

  /** Writes a last line that had no newline. */
  flush(stream: LogStream): void {
    if (this.pending[stream]) this.write({ log: this.pending[stream], stream, time: nowRfc3339Nano() });
    this.pending[stream] = '';
  }

  close(): void {
    this.flush('stdout');
    this.flush('stderr');
    closeSync(this.fd);
  }

  private write(entry: LogEntry): void {
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    if (this.config.maxSize !== undefined && this.size > 0 && this.size + line.length > this.config.maxSize) this.rotate();
    writeSync(this.fd, line);
    this.size += line.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    const n = this.config.maxFile;
    if (n > 1) {
      rmSync(`${this.path}.${n - 1}`, { force: true });
      for (let i = n - 2; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, 'w', 0o640);
    this.size = 0;
  }
}

export function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      // a line cut by a crash mid-write
    }
  }
  return out;
}

/** Every entry of the log, oldest first. */
export function readLog(path: string, config: LogConfig): LogEntry[] {
  return logFiles(path, config).flatMap((f) => parseLogLines(readFileSync(f, 'utf8')));
}

/**
 * Follows the live file from byte `offset`: calls `emit` for each new entry
 * until `done()` says the writer has finished and everything is read. A
 * rotation (the file got shorter, or was replaced) starts again at 0.
 */
export async function followLog(path: string, offset: number, emit: (e: LogEntry) => void, done: () => Promise<boolean>): Promise<void> {
  let pos = offset;
  let ino = -1;
  let rest = '';
  for (;;) {
    const finished = await done();
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      const st = fstatSync(fd);
      if ((ino !== -1 && st.ino !== ino) || st.size < pos) {
        pos = 0;
        rest = '';
      }
      ino = st.ino;
      if (st.size > pos) {
        const buf = Buffer.alloc(st.size - pos);
        const n = readSyncAll(fd, buf, pos);
        pos += n;
        const text = rest + buf.subarray(0, n).toString('utf8');
        const cut = text.lastIndexOf('\n') + 1;
        rest = text.slice(cut);
        for (const e of parseLogLines(text.slice(0, cut))) emit(e);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (finished) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readSyncAll(fd: number, buf: Buffer, pos: number): number {
  let n = 0;
  while (n < buf.length) {
    const got = readSync(fd, buf, n, buf.length - n, pos + n);
    if (got === 0) break;
    n += got;
  }
  return n;
}
