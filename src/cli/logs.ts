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
  /** Start at this byte of the live file instead (start -a: what comes after). */
  offset?: number;
}

export const logSize = (root: string, state: ContainerState): number => statSync(pathsOf(root, state.id).output, { throwIfNoEntry: false })?.size ?? 0;

function print(e: LogEntry, timestamps: boolean): void {
  (e.stream === 'stderr' ? process.stderr : process.stdout).write(timestamps ? `${e.time} ${e.log}` : e.log);
}

/** Prints the log (and with `follow` what comes until the container stops); the container's exit code. */
export async function followOutput(root: string, state: ContainerState, opts: OutputOptions): Promise<number> {
  const path = pathsOf(root, state.id).output;
  const ts = opts.timestamps === true;
  let offset = opts.offset;
  if (offset === undefined) {
    offset = logSize(root, state);
    const entries = readLog(path, configOf(state).log);
    for (const e of opts.tail === undefined ? entries : entries.slice(Math.max(0, entries.length - opts.tail))) print(e, ts);
  }
  if (opts.follow) {
    // Done once the supervisor has recorded the end (it wrote the last output before that);
    // as a waiter, an auto-removed container's log stays until then.
    const done = await addWaiter(root, state.id);
    try {
      await followLog(path, offset, (e) => print(e, ts), async () => {
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
    .option('-t, --timestamps', 'prefix each line with its RFC 3339 time'))
    .action(async (ref: string, flags: { follow?: boolean; tail: string; timestamps?: boolean; root?: string }) => {
      if (flags.tail !== 'all' && !/^\d+$/.test(flags.tail)) throw new UsageError(`invalid --tail '${flags.tail}': a number or all`);
      const store = await Store.open(flags.root);
      const state = await reconcile(store.root, await findContainer(store.root, ref));
      await followOutput(store.root, state, { follow: flags.follow, tail: flags.tail === 'all' ? undefined : Number(flags.tail), timestamps: flags.timestamps });
    });
}
