/**
 * Daemonizing: Node cannot fork, so the command re-runs itself detached in the
 * foreground mode and waits until the child reports on a pipe (fd 3) that the
 * mount is ready, or why it failed. The child's stdio is not the caller's: a
 * caller such as podman reads our stderr until EOF, so a daemon holding it open
 * would hang the caller.
 *
 * States of the parent: spawned → (child writes "ready\n" → exit 0)
 *                               | (child writes "error: ...\n" or dies → exit 1).
 */
import { spawn } from 'node:child_process';
import { openSync, writeSync, closeSync } from 'node:fs';

export const READY_FD = 3;

/** In the parent: start `argv` detached and wait for its verdict. */
export async function startDaemon(argv: string[], logFile?: string): Promise<void> {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, argv, {
    detached: true,
    cwd: '/',
    stdio: ['ignore', out, out, 'pipe'],
    env: { ...process.env, LAYERFS_DAEMON: '1' },
  });
  if (typeof out === 'number') closeSync(out);
  const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream;
  let said = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (chunk: string) => (said += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const verdict = await Promise.race([
    new Promise<string>((resolve) => pipe.on('end', () => resolve(said))),
    exited.then((code) => `error: the mount daemon exited (code ${code}) before the mount was ready`),
  ]);
  child.unref();
  (pipe as unknown as { destroy(): void }).destroy();
  if (verdict.startsWith('ready')) return;
  const reason = verdict.startsWith('error: ') ? verdict.slice(7).trim() : `the mount daemon gave no answer`;
  throw Object.assign(new Error(reason), { code: 'MOUNT_FAILED' });
}

/** In the daemon: tell the waiting parent how it went (no-op when run in the foreground by hand). */
export function reportToParent(message: 'ready' | `error: ${string}`): void {
  if (process.env.LAYERFS_DAEMON !== '1') return;
  try {
    writeSync(READY_FD, message + '\n');
    closeSync(READY_FD);
  } catch {
    // the parent is gone: nobody to tell
  }
}
