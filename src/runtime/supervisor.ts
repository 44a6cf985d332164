/**
 * The supervisor: one small detached process per running container (`run
 * -d`, `start`), started through the hidden `layerfs supervise` command. It
 * owns the container's init and rootfs mount (through run.ts's runAttempt),
 * writes its output to the json-file log, records its exit status and
 * applies the restart policy. It outlives the CLI that started it; if it is
 * killed, the mount daemon's lifeline and init's PDEATHSIG take the
 * container down, and reconcile.ts records it as exited.
 *
 * States of a supervised container: running → (exit) → restarting (policy
 * says so, after a back-off) → running … → exited | failed.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LayerfsError, UsageError } from '../errors.js';
import { LAYERFS_BIN, reportToParent, spawnDaemon } from '../daemon.js';
import { Store } from '../store/store.js';
import { loadState, pathsOf, removeContainerDir, saveState, untilUnwatched, type ContainerState, type RestartPolicy } from './containers.js';
import type { InitProcess } from './init.js';
import { JsonFileLog } from './json-log.js';
import { claimRuntime, configOf, runAttempt } from './run.js';
import { parseSignal } from './signals.js';

/** Starts the supervisor of a created or stopped container; resolves once its command runs. */
export async function spawnSupervisor(root: string, id: string): Promise<void> {
  const paths = pathsOf(root, id);
  await rm(paths.stopRequested, { force: true });
  try {
    (await spawnDaemon([LAYERFS_BIN, 'supervise', '--root', root, id], join(paths.dir, 'supervisor.log'), false, 'the supervisor')).detach();
  } catch (err) {
    throw new LayerfsError('START_FAILED', (err as Error).message, { id, ...(err as LayerfsError).data });
  }
}

/** `--restart no|always|on-failure[:N]` */
export function parseRestartPolicy(spec: string): RestartPolicy {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(spec);
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure')) throw new UsageError(`invalid restart policy '${spec}': use no, always or on-failure[:N]`);
  // unless-stopped differs from always only across daemon restarts, and there is no daemon.
  return { name: m[1] === 'unless-stopped' ? 'always' : (m[1] as RestartPolicy['name']), maximumRetryCount: Number(m[2] ?? 0) };
}

export function shouldRestart(policy: RestartPolicy, state: ContainerState): boolean {
  if (policy.name === 'always') return true;
  if (policy.name !== 'on-failure' || state.exitCode === 0) return false;
  return policy.maximumRetryCount === 0 || (state.restartCount ?? 0) < policy.maximumRetryCount;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The supervisor's body (`layerfs supervise ROOT ID`). */
export async function supervise(root: string, id: string): Promise<void> {
  const store = await Store.open(root);
  const state = await loadState(root, id);
  const config = configOf(state);
  const paths = pathsOf(root, id);
  const output = new JsonFileLog(paths.output, config.log);
  let current: InitProcess | undefined;
  let reported = false;
  // SIGTERM to the supervisor is a `stop`; the terminal's signals are not ours (own session anyway).
  process.on('SIGTERM', () => {
    void writeFile(paths.stopRequested, '').catch(() => {});
    void current?.kill(parseSignal(config.stopSignal));
    setTimeout(() => void current?.kill('SIGKILL'), 10_000).unref();
  });
  for (const sig of ['SIGINT', 'SIGHUP'] as const) process.on(sig, () => {});
  claimRuntime(state);
  state.detached = true;
  await saveState(root, state);
  let delay = 100;
  try {
    for (;;) {
      const began = Date.now();
      try {
        await runAttempt(store, state, {
          stdout: 'pipe',
          stderr: 'pipe',
          // -i or -t with no one attached: stdin stays open, so a shell waits rather than exits.
          stdin: config.interactive || config.tty ? 'pipe' : undefined,
          log: (m) => output.add('stderr', `layerfs: ${m}\n`),
          onSpawn: (init) => {
            current = init;
            void output.follow('stdout', init.stdout!);
            void output.follow('stderr', init.stderr!);
          },
          onStart: () => {
            if (!reported) reportToParent('ready');
            reported = true;
          },
        });
      } catch (err) {
        const code = err instanceof LayerfsError ? err.data.exitCode : undefined;
        if (!reported) reportToParent(typeof code === 'number' ? `error ${code}: ${(err as Error).message}` : `error: ${(err as Error).message}`);
        reported = true;
        output.add('stderr', `layerfs: ${(err as Error).message}\n`);
        break;
      }
      current = undefined;
      if (existsSync(paths.stopRequested) || !shouldRestart(config.restart, state)) break;
      // docker's back-off: 100 ms, doubling, back to 100 ms after a run of 10 s or more.
      delay = Date.now() - began >= 10_000 ? 100 : delay;
      state.status = 'restarting';
      await saveState(root, state);
      for (const until = Date.now() + delay; Date.now() < until && !existsSync(paths.stopRequested);) await sleep(50);
      delay = Math.min(delay * 2, 60_000);
      if (existsSync(paths.stopRequested)) {
        state.status = 'exited';
        break;
      }
      state.restartCount = (state.restartCount ?? 0) + 1;
    }
  } finally {
    output.close();
    delete state.runtimePid;
    delete state.runtimeStart;
    if (config.autoRemove) {
      await saveState(root, state).catch(() => {});
      await untilUnwatched(root, id);
      await removeContainerDir(root, id);
      await store.release(id);
    } else await saveState(root, state).catch(() => {});
  }
}
