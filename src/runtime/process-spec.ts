/**
 * What the container runs, merged from the image config and the `run` flags
 * the way docker does: CMD arguments replace the image's Cmd and follow its
 * Entrypoint; `-e` overrides Env; `-w` and `-u` override WorkingDir and User.
 */
import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import type { ImageConfig } from '../oci/config.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunFlags {
  /** CMD... after the image name; empty keeps the image's Cmd. */
  command: string[];
  /** `-e K=V` (or `-e K`, which takes K from `hostEnv` and drops it when unset there). */
  env?: string[];
  workdir?: string;
  user?: string;
  hostname: string;
  tty?: boolean;
}

export interface ProcessSpec {
  args: string[];
  /** `K=V` entries, one per name, in first-seen order. */
  env: string[];
  cwd: string;
  /** Still unresolved: `name`, `uid`, `name:group`... (see users.ts). */
  user: string;
}

export function processSpec(config: ImageConfig['config'], flags: RunFlags, hostEnv: NodeJS.ProcessEnv = process.env): ProcessSpec {
  const c = config ?? {};
  const args = [...(c.Entrypoint ?? []), ...(flags.command.length > 0 ? flags.command : (c.Cmd ?? []))];
  if (args.length === 0) throw new UsageError('no command specified: the image has no Entrypoint or Cmd and none was given');

  const env = new Map<string, string>([['PATH', DEFAULT_PATH]]);
  const set = (entry: string) => {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  };
  for (const e of c.Env ?? []) set(e);
  env.set('HOSTNAME', flags.hostname);
  if (flags.tty) env.set('TERM', 'xterm');
  for (const e of flags.env ?? []) {
    if (e.startsWith('=') || e === '') throw new UsageError(`invalid environment variable: '${e}'`);
    if (e.includes('=')) set(e);
    else if (hostEnv[e] !== undefined) env.set(e, hostEnv[e]!);
    else env.delete(e);
  }

  if (flags.workdir !== undefined && !posix.isAbsolute(flags.workdir)) {
    throw new UsageError(`the working directory '${flags.workdir}' is invalid, it needs to be an absolute path`);
  }
  const cwd = posix.resolve('/', flags.workdir ?? (c.WorkingDir || '/'));
  return { args, env: [...env].map(([k, v]) => `${k}=${v}`), cwd, user: flags.user ?? c.User ?? '' };
}

/** Adds HOME from the resolved user when neither the image nor `-e` set it. */
export function withHome(env: string[], home: string): string[] {
  return env.some((e) => e.startsWith('HOME=')) ? env : [...env, `HOME=${home}`];
}

/** `--env-file`: one `K=V` (or `K`, taken from here) a line; blank lines and `#` comments skipped, values taken literally, as docker does. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const name = line.split('=')[0]!;
    if (name === '' || /\s/.test(name)) throw new UsageError(`${file}:${i + 1}: invalid variable name '${name}'`);
    out.push(line);
  }
  return out;
}
