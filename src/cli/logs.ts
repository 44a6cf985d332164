/** `layerfs logs [-f] [--tail N] [-t] CONTAINER`: the output of a detached container, from its json-file log. */
import { statSync } from 'node:fs';
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { configOf } from '../runtime/run.js';
import { addWaiter, findContainer, isActive, loadState, pathsOf, runtimeAlive, type ContainerState } from '../runtime/containers.js';
import { followLog, readLog, type LogEntry } from '../runtime/json-log.js';
import { reconcile } from '../runtime/reconcile.js';
import { Store } from '../store/store.js';
import { withRoot } from './store-options.js';

export interface OutputOptions {
  follow?: boolean;
  /** Only the last N lines (of what is there now). */
  tail?: number;
  timestamps?: boolean;
  /** Only entries at or after / before these times (ms since the epoch). */
  since?: number;
  until?: number;
  /** Start at this byte of the live file instead (start -a: what comes after). */
  offset?: number;
}

export const logSize = (root: string, state: ContainerState): number => statSync(pathsOf(root, state.id).output, { throwIfNoEntry: false })?.size ?? 0;

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `--since`/`--until` as docker takes them: an RFC 3339 time (or a date), a
 * Unix time in seconds (`1700000000.5`), or a Go duration before now (`10m`, `1h30m`).
 */
export function parseLogTime(flag: string, value: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return now - ms;
  }
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`invalid value for "${flag}": '${value}' is not a timestamp (RFC 3339, Unix seconds) or a duration like 10m`);
  return t;
}

function print(e: LogEntry, timestamps: boolean): void {
  (e.stream === 'stderr' ? process.stderr : process.stdout).write(timestamps ? `${e.time} ${e.log}` : e.log);
}

/** Prints the log (and with `follow` what comes until the container stops); the container's exit code. */
export async function followOutput(root: string, state: ContainerState, opts: OutputOptions): Promise<number> {
  const path = pathsOf(root, state.id).output;
  const ts = opts.timestamps === true;
  const inRange = (e: LogEntry) => {
    if (opts.since === undefined && opts.until === undefined) return true;
    const t = Date.parse(e.time);
    return (opts.since === undefined || t >= opts.since) && (opts.until === undefined || t <= opts.until);
  };
  let offset = opts.offset;
  if (offset === undefined) {
    offset = logSize(root, state);
    const entries = readLog(path, configOf(state).log);
    // as dockerd: the last N lines first, then the time range
    for (const e of opts.tail === undefined ? entries : entries.slice(Math.max(0, entries.length - opts.tail))) if (inRange(e)) print(e, ts);
  }
  if (opts.follow) {
    // Done once the supervisor has recorded the end (it wrote the last output before that);
    // as a waiter, an auto-removed container's log stays until then.
    const done = await addWaiter(root, state.id);
    try {
      await followLog(path, offset, (e) => inRange(e) && print(e, ts), async () => {
        const now = await reconcile(root, await loadState(root, state.id).catch(() => state));
        return !isActive(now) && !runtimeAlive(now);
      });
    } finally {
      await done();
    }
  }
  return (await loadState(root, state.id).catch(() => state)).exitCode ?? 0;
}

export function register(program: Command): void {
  withRoot(program
    .command('logs')
    .description("print a detached container's output (json-file log: stdout and stderr, each to its own)")
    .argument('<container>', 'name, id or id prefix')
    .option('-f, --follow', 'keep printing new output until the container stops')
    .option('-n, --tail <N>', 'only the last N lines ("all": everything)', 'all')
    .option('-t, --timestamps', 'prefix each line with its RFC 3339 time')
    .option('--since <time>', 'only output from this time on: RFC 3339 (2026-11-28T04:00:00Z), Unix seconds, or a duration before now (10m, 1h30m)')
    .option('--until <time>', 'only output up to this time (same forms as --since)'))
    .action(async (ref: string, flags: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string; root?: string }) => {
      if (flags.tail !== 'all' && !/^\d+$/.test(flags.tail)) throw new UsageError(`invalid --tail '${flags.tail}': a number or all`);
      const store = await Store.open(flags.root);
      const state = await reconcile(store.root, await findContainer(store.root, ref));
      const since = flags.since === undefined ? undefined : parseLogTime('--since', flags.since);
      const until = flags.until === undefined ? undefined : parseLogTime('--until', flags.until);
      await followOutput(store.root, state, { follow: flags.follow, tail: flags.tail === 'all' ? undefined : Number(flags.tail), timestamps: flags.timestamps, since, until });
    });
}
