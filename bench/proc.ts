/**
 * Child processes for the harness: every timed operation runs in a process
 * of its own (a real tool or the probe), never in the harness, so the harness
 * is never the process a FUSE request waits on.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';

export interface Ran { ns: bigint; stdout: string; stderr: string }

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly reason: string, readonly stderr: string, readonly stdout = '') {
    // Some tools (tsc) report errors on stdout.
    const detail = gist(stderr) || gist(stdout);
    super(`${commandName(argv)}: ${reason}${detail ? `: ${detail}` : ''}`);
  }
}

/** `dd`, `chmod`, or for a node script `layerfs.js mount`: enough to say what failed. */
function commandName(argv: string[]): string {
  const [cmd = '', a1 = '', a2 = ''] = argv;
  return cmd === process.execPath ? `${basename(a1)} ${a2.startsWith('{') ? a2.slice(0, 40) : a2}` : basename(cmd);
}

/** The line of stderr that says what went wrong (a usage text ends with help, not the error). */
function gist(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const pick = lines.find((l) => /error|fail|cannot|denied|not permitted|no such|invalid|refused|unknown/i.test(l)) ?? lines.slice(-2).join(' / ');
  return pick.slice(0, 300);
}

/**
 * Runs argv to completion and returns the wall time from spawn to exit. A
 * non-zero exit or a timeout rejects: a failed step must not pass for a result.
 */
export function run(argv: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<Ran> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty argv');
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(argv, err.message, ''));
    });
    child.on('close', (code, signal) => {
      const ns = process.hrtime.bigint() - start;
      clearTimeout(timer);
      if (timedOut) reject(new CommandError(argv, `timed out after ${opts.timeoutMs} ms`, stderr, stdout));
      else if (code !== 0) reject(new CommandError(argv, signal ? `killed by ${signal}` : `exit ${code}`, stderr, stdout));
      else resolve({ ns, stdout, stderr });
    });
  });
}

/** Seconds from nanoseconds. */
export const seconds = (ns: bigint) => Number(ns) / 1e9;

/** Flushes dirty pages so one run's writeback does not land in the next one's timing. */
export async function sync(): Promise<void> {
  await run(['sync']);
}

/** "cold": written data on disk, then page cache, dentries and inodes dropped. */
export async function dropCaches(): Promise<void> {
  await sync();
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}
