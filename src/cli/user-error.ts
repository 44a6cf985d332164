/**
 * How an error reaches the user: one line that names the thing and the reason,
 * `layerfs: PATH: no such file or directory`, never a stack trace unless
 * LAYERFS_DEBUG=1. Exit codes as docker's: 125 for a usage error (the command
 * line is wrong), 1 for anything else that failed.
 */
import { getSystemErrorMap } from 'node:util';
import { LayerfsError, UsageError } from '../errors.js';

/** docker's exit code for an error of the command line itself. */
export const USAGE_FAILED = 125;

const descriptions = new Map<string, string>([...getSystemErrorMap().values()]);

interface NodeSystemError {
  code?: unknown;
  syscall?: string;
  path?: string;
  dest?: string;
  address?: string;
  port?: number;
}

/** The one line for an error, or null for a bug (an error no layer of the program meant to raise). */
export function errorLine(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const e = err as Error & NodeSystemError;
  let line: string | null = null;
  if (typeof e.code === 'string' && descriptions.has(e.code) && !(err instanceof LayerfsError)) {
    // A raw errno from Node or our FsError: the path (or the address) and what the errno means.
    const what =
      e.path !== undefined ? (e.dest !== undefined ? `${e.path} -> ${e.dest}` : e.path)
      : e.address !== undefined ? `${e.syscall ?? 'connect'} ${e.address}${e.port !== undefined ? `:${e.port}` : ''}`
      : e.syscall;
    line = `${what ? `${what}: ` : ''}${descriptions.get(e.code)}`;
  } else if (err instanceof LayerfsError || typeof e.code === 'string') line = err.message;
  return line === null ? null : line.replace(/\s*\n\s*/g, '; ');
}

/** Writes the error as the user should see it and returns the exit code. */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const debug = process.env.LAYERFS_DEBUG === '1';
  const line = errorLine(err);
  if (debug) write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  if (line !== null) {
    if (!debug) write(line.startsWith("layerfs ") ? `${line}\n` : `layerfs: ${line}\n`);
    return err instanceof UsageError ? USAGE_FAILED : 1;
  }
  if (!debug) write(`layerfs: unexpected error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)} (LAYERFS_DEBUG=1 shows where)\n`);
  return 1;
}
