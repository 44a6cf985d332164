/**
 * Starting native/init.c (layerfs-init), the process that creates the
 * namespaces, pivots into the rootfs and execs the command as PID 1. Its exit
 * status is the container's (see native-notes/init.md).
 *
 * With a terminal (`-t`) it runs under util-linux `script`, which gives it a
 * fresh pseudo-terminal and relays the user's: the container's shell gets a
 * controlling tty of its own and the user's shell keeps theirs. `script` is
 * started through util-linux `setpriv --pdeathsig KILL`, so a killed runtime
 * takes it, and so init, with it.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LayerfsError } from '../errors.js';

export const INIT_BIN = fileURLToPath(new URL('../../native/build/Release/layerfs-init', import.meta.url));

export interface Bind { source: string; target: string; readonly: boolean }

/** `--tmpfs PATH[:OPTS]`: OPTS as mount(8) words (ro, noexec, size=64m, mode=1777...). */
export interface Tmpfs { target: string; options: string }

export interface InitSpec {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  hostname: string;
  uid: number;
  gid: number;
  groups: number[];
  /** false: a new network namespace with only `lo`; true: the host's network. */
  hostNetwork: boolean;
  /** A network namespace file to join instead (bridge, container:NAME). */
  netns?: string;
  binds: Bind[];
  tty: boolean;
  /** Where init writes the container's PID 1 as the host sees it. */
  pidFile: string;
  /** Capabilities, seccomp, masks... as init's options (isolation.ts confinementArgs). */
  confinement?: string[];
  /** cgroup dirs init joins before it forks the command. */
  cgroups?: string[];
  tmpfs?: Tmpfs[];
  /** `--init`: a reaper stays PID 1 and forwards signals to the command. */
  reaper?: boolean;
}

export function initArgv(s: InitSpec): string[] {
  return [
    '-r', s.rootfs, '-h', s.hostname, '-w', s.cwd,
    '-u', String(s.uid), '-g', String(s.gid), '-G', s.groups.join(','),
    '-p', s.pidFile,
    ...(s.hostNetwork ? [] : s.netns ? ['-j', s.netns] : ['-n']),
    ...(s.tty ? ['-t'] : []),
    ...(s.cgroups ?? []).flatMap((d) => ['-c', d]),
    ...(s.confinement ?? []),
    ...s.env.flatMap((e) => ['-e', e]),
    ...s.binds.flatMap((b) => [b.readonly ? '-B' : '-b', b.source, b.target]),
    ...(s.tmpfs ?? []).flatMap((t) => ['-T', t.target, t.options]),
    ...(s.reaper ? ['-I'] : []),
    '--', ...s.args,
  ];
}

/** `exec`: a command joining the namespaces and root of the container whose PID 1 is `pid`. */
export interface JoinSpec {
  pid: number;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  tty: boolean;
  /** The container's own confinement and cgroups (as InitSpec's), so exec is held like the container. */
  confinement?: string[];
  cgroups?: string[];
}

export function joinArgv(s: JoinSpec): string[] {
  return [
    '-x', String(s.pid), '-w', s.cwd, '-u', String(s.uid), '-g', String(s.gid), '-G', s.groups.join(','),
    ...(s.tty ? ['-t'] : []),
    ...(s.cgroups ?? []).flatMap((d) => ['-c', d]),
    ...(s.confinement ?? []),
    ...s.env.flatMap((e) => ['-e', e]),
    '--', ...s.args,
  ];
}

export interface InitProcess {
  /** layerfs-init's pid (or `script`'s, with a terminal). */
  readonly pid: number;
  /** Resolves with the container's exit status (128+N for a signal). */
  readonly exited: Promise<number>;
  /**
   * Resolves once the command runs (undefined), or with why it could not
   * start: 125 set-up, 126 not executable, 127 not found. With a terminal it
   * resolves at once (`script` keeps no status pipe), and init says it on
   * the terminal.
   */
  readonly started: Promise<StartFailure | undefined>;
  /** Sends a signal to the container's PID 1 (once it exists). */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** The command's output, when InitStdio asked for pipes. */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface InitStdio {
  /** docker's -i: pass our stdin through (otherwise /dev/null). */
  interactive: boolean;
  /**
   * 'pipe': a stdin that stays open and silent (`run -d -i`/`-t`: no one
   * attaches, and a shell must not see EOF and exit).
   */
  stdin?: 'pipe';
  /** File descriptors for the command's output (default: ours), or pipes to read it from. */
  stdout?: number | 'pipe';
  stderr?: number | 'pipe';
}

export interface StartFailure { code: number; message: string }

export function startInit(spec: InitSpec, io: InitStdio): InitProcess {
  return startInitArgv(initArgv(spec), spec.tty, spec.pidFile, io, true);
}

/** Runs `exec`'s command in a running container (see JoinSpec). */
export function startJoin(spec: JoinSpec, io: InitStdio): InitProcess {
  return startInitArgv(joinArgv(spec), spec.tty, undefined, io);
}

function startInitArgv(args: string[], tty: boolean, pidFile: string | undefined, io: InitStdio, statusPipe = false): InitProcess {
  if (!existsSync(INIT_BIN)) {
    throw new LayerfsError('NO_INIT', `${INIT_BIN} is missing: build the native parts (npm ci, or scripts/build-native.js)`);
  }
  statusPipe &&= !tty;
  const argv = [INIT_BIN, ...(statusPipe ? ['-E'] : []), ...args];
  const stdio: StdioOptions = [io.stdin ?? (io.interactive ? 'inherit' : 'ignore'), io.stdout ?? 'inherit', io.stderr ?? 'inherit', ...(statusPipe ? ['pipe' as const] : [])];
  // Its own process group: the terminal's Ctrl-C reaches only us, and we forward it once.
  const child = tty
    // setpriv: `script` dies with us (PR_SET_PDEATHSIG), and init with it, as without a terminal.
    // Detached, `script` makes the terminal and its output is the log's stdout (carriage returns and all, as docker's).
    ? spawn('setpriv', ['--pdeathsig', 'KILL', 'script', '-q', '-e', '-c', `exec ${argv.map(shellQuote).join(' ')}`, '/dev/null'], { stdio })
    : spawn(argv[0]!, argv.slice(1), { stdio, detached: true });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (err) => reject(new LayerfsError('INIT_FAILED', `starting ${argv[0]}: ${err.message}`)));
    // With pipes, 'close' also waits for the last output.
    child.on(io.stdout === 'pipe' || io.stderr === 'pipe' ? 'close' : 'exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
  });
  const status = statusPipe ? (child.stdio[3] as Readable) : undefined;
  const started = status === undefined ? Promise.resolve(undefined) : readStatus(status);
  return {
    pid: child.pid ?? 0,
    exited,
    started,
    stdout: child.stdout,
    stderr: child.stderr,
    async kill(signal) {
      // Once init has exited, the pid in the file may belong to someone else.
      if (child.exitCode !== null || child.signalCode !== null) return;
      const text = pidFile ? await readFile(pidFile, 'utf8').catch(() => '') : '';
      const pid = Number.parseInt(text, 10);
      try {
        if (pid > 0) process.kill(pid, signal);
        else child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

/** The status pipe (see native/init.c, -E): EOF alone once the command runs, else "CODE MESSAGE". */
async function readStatus(pipe: Readable): Promise<StartFailure | undefined> {
  let said = '';
  try {
    for await (const chunk of pipe) said += String(chunk);
  } catch {
    // init was killed: its exit status tells
  }
  const m = /^(\d+) (?:layerfs(?:-init)?: )?([^]*)$/.exec(said.trim());
  return m ? { code: Number(m[1]), message: m[2]! } : undefined;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : ((constants.signals as Record<string, number>)[signal] ?? 0);
}
