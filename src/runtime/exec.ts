/**
 * `exec`: a command in a running container. layerfs-init's join mode (-x)
 * enters the namespaces and root of the container's PID 1 (see
 * native-notes/init.md); the environment is the container's plus `-e`, the
 * user and working directory the container's unless `-u`/`-w` say otherwise.
 * It joins the container's cgroups and gets its capabilities and seccomp
 * profile, as docker's exec does.
 */
import { UsageError } from '../errors.js';
import { shortId } from '../oci/digest.js';
import { pathsOf, processAlive, type ContainerState } from './containers.js';
import { startJoin } from './init.js';
import { processSpec, withHome } from './process-spec.js';
import { reconcile } from './reconcile.js';
import { readImageFile } from './rootfs-paths.js';
import { configOf } from './run.js';
import { resolveUser } from './users.js';
import { confinementArgs, DEFAULT_ISOLATION } from './isolation.js';
import { cgroupDirs } from './cgroups.js';

export interface ExecOptions {
  command: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  interactive?: boolean;
  tty?: boolean;
}

/** Runs the command in the container; resolves with its exit status. */
export async function execInContainer(root: string, state: ContainerState, opts: ExecOptions): Promise<number> {
  state = await reconcile(root, state);
  if (state.status !== 'running' || !processAlive(state.pid)) throw new UsageError(`container ${state.name} (${shortId(state.id)}) is not running`);
  if (opts.command.length === 0) throw new UsageError('exec: no command given');
  const c = configOf(state);
  const spec = processSpec({ Env: c.env, WorkingDir: c.cwd, User: c.user, Cmd: opts.command }, {
    command: [], env: opts.env, workdir: opts.workdir, user: opts.user, hostname: c.hostname, tty: opts.tty,
  });
  const paths = pathsOf(root, state.id);
  const merged = paths.merged;
  const confinement = await confinementArgs(state.isolation ?? DEFAULT_ISOLATION, `${paths.dir}/seccomp`);
  const user = resolveUser(spec.user, await readImageFile(merged, '/etc/passwd'), await readImageFile(merged, '/etc/group'));
  const proc = startJoin(
    { pid: state.pid!, args: spec.args, env: withHome(spec.env, user.home), cwd: spec.cwd, uid: user.uid, gid: user.gid, groups: user.groups, tty: opts.tty === true,
      confinement, cgroups: cgroupDirs(state.id) },
    { interactive: opts.interactive === true || opts.tty === true },
  );
  const forward = (sig: NodeJS.Signals) => () => void proc.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    return await proc.exited;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}
