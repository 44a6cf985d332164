/**
 * The flags `run` and `create` share (docker's), and the RunOptions they
 * make: every check that can fail runs here, before anything is created.
 */
import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { errorLine } from './user-error.js';
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import type { RunOptions } from '../runtime/run.js';
import { parseEnvFile } from '../runtime/process-spec.js';
import { parseLogOpts } from '../runtime/json-log.js';
import { parseRestartPolicy } from '../runtime/supervisor.js';
import { ensureImage, parsePullPolicy } from './pull-policy.js';
import { parseIsolation, type IsolationFlags } from '../runtime/isolation.js';
import { parseLabels } from './label-flags.js';
import { parseMountFlag } from '../runtime/mount-flag.js';
import { requireHostPlatform } from '../oci/manifest.js';

const collect = (value: string, prev: string[]) => [...prev, value];

export interface RunFlags extends IsolationFlags {
  rm?: boolean; name?: string; env: string[]; envFile: string[]; label: string[]; stopSignal?: string; workdir?: string; user?: string; hostname?: string;
  network: string; publish: string[]; addHost: string[]; dns: string[]; volume: string[]; tmpfs: string[]; mount: string[]; cidfile?: string; publishAll?: boolean; expose: string[]; platform?: string; interactive?: boolean; tty?: boolean; root?: string; rootfs: 'layerfs' | 'kernel';
  detach?: boolean; entrypoint?: string; pull: string; init?: boolean; restart: string; logOpt: string[];
}

/** Adds the container flags to `cmd` (run's and create's). */
export function withRunFlags(cmd: Command): Command {
  return cmd
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'name the container')
    .option('-e, --env <K=V>', 'set an environment variable (K alone: take it from here); may repeat', collect, [])
    .option('--env-file <file>', 'read K=V lines from a file (before -e); may repeat', collect, [])
    .option('-l, --label <K=V>', 'set a label on the container (over the image\'s); may repeat', collect, [])
    .option('--stop-signal <signal>', 'the signal stop sends (default: the image\'s STOPSIGNAL, else SIGTERM)')
    .option('--entrypoint <cmd>', "replace the image's Entrypoint (and its Cmd); '' clears it")
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'name|uid[:group|gid], resolved in the image /etc/passwd')
    .option('--hostname <name>', 'container host name (default: the short id)')
    .option('--network <mode>', 'bridge: an address on the layerfs0 bridge; none: only lo; host: share ours; container:NAME: share its', 'bridge')
    .option('-p, --publish <[IP:]HOSTPORT:CTRPORT[/tcp|udp]>', 'publish a container port on the host (bridge only); may repeat', collect, [])
    .option('--add-host <HOST:IP>', 'add a line to /etc/hosts (IP may be host-gateway); may repeat', collect, [])
    .option('--dns <IP>', "nameserver for /etc/resolv.conf instead of the host's; may repeat", collect, [])
    .option('-v, --volume <HOST:CTR[:OPTS]>', 'bind-mount a host path; OPTS: ro (recursive) or rw, z or Z (no effect without SELinux), private or rprivate, cached, delegated or consistent (no effect); may repeat', collect, [])
    .option('--platform <os/arch>', 'only linux/amd64, this machine\'s (others are refused: there is no emulation)')
    .option('-P, --publish-all', 'publish every exposed port (the image\'s EXPOSE and --expose) on a port the kernel picks')
    .option('--expose <port[/proto]>', 'expose a port as EXPOSE does (published with -P); may repeat', collect, [])
    .option('--mount <type=bind|tmpfs,...>', 'docker\'s long form: type=bind,source=HOST,target=CTR[,readonly] or type=tmpfs,target=CTR[,tmpfs-size=64m][,tmpfs-mode=1777]; may repeat', collect, [])
    .option('--cidfile <file>', 'write the container ID to this file (it must not exist)')
    .option('--tmpfs <PATH[:OPTS]>', 'mount a tmpfs (default noexec,nosuid,nodev; OPTS like size=64m,mode=1777,exec); may repeat', collect, [])
    .option('--init', 'run a reaper as PID 1 that forwards signals (so Ctrl-C and SIGTERM stop any command)')
    .option('--pull <policy>', 'missing: pull the image when it is not in the store; always; never', 'missing')
    .option('--restart <policy>', 'with -d: no, on-failure[:N] (retry N times) or always', 'no')
    .option('--log-opt <opt>', 'with -d: max-size=10m, max-file=3 (the json-file log); may repeat', collect, [])
    .option('-i, --interactive', 'keep stdin attached')
    .option('-t, --tty', 'give the command a terminal')
    .option('--ulimit <name=soft[:hard]>', 'a resource limit (nofile, nproc, core, memlock, stack...; -1 or unlimited); may repeat', collect, [])
    .option('--shm-size <size>', 'size of /dev/shm (default 64m)')
    .option('--device <host[:ctr[:perms]]>', 'a host device in the container (perms: r, w, m; default rwm); may repeat', collect, [])
    .option('--cap-add <cap>', 'add a Linux capability (NET_ADMIN, CAP_SYS_TIME, ALL); may repeat', collect, [])
    .option('--cap-drop <cap>', 'drop a Linux capability from the default set (or ALL); may repeat', collect, [])
    .option('--security-opt <opt>', 'no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json, systempaths=unconfined; may repeat', collect, [])
    .option('--privileged', 'give the container every capability, no seccomp, no masks, writable /sys and the host devices')
    .option('--read-only', "mount the container's root filesystem read-only")
    .option('-m, --memory <bytes>', 'memory limit (e.g. 64m, 1g); killed by the OOM killer beyond it (exit 137)')
    .option('--memory-swap <bytes>', 'memory plus swap limit (default: twice --memory; -1: unlimited swap)')
    .option('--cpus <n>', 'CPU quota in CPUs (e.g. 0.5)')
    .option('-c, --cpu-shares <n>', 'relative CPU weight (default 1024)')
    .option('--pids-limit <n>', 'most processes and threads at once (default: unlimited)')
    .option('--root <dir>', 'store root (default: $LAYERFS_ROOT or /var/lib/layerfs)')
    .addOption(new Option('--rootfs <mounter>', 'how the rootfs is mounted').choices(['layerfs', 'kernel']).default('layerfs').hideHelp());
}

/** Checks the flags, pulls the image as --pull says, and gives the container's options. */
export async function runOptionsOf(image: string, command: string[], flags: RunFlags): Promise<RunOptions> {
  if (flags.hostname !== undefined && flags.network.startsWith('container:')) throw new UsageError('conflicting options: hostname and the network mode');
  const restart = parseRestartPolicy(flags.restart);
  if (restart.name !== 'no' && flags.rm) throw new UsageError('--restart and --rm cannot be used together');
  const logConfig = parseLogOpts(flags.logOpt);
  const mounts = flags.mount.map(parseMountFlag);
  if (flags.platform !== undefined) requireHostPlatform(flags.platform);
  if (flags.cidfile !== undefined && existsSync(flags.cidfile)) throw new UsageError(`container ID file found, make sure the other container isn't running or delete ${flags.cidfile}`);
  const isolation = await parseIsolation(flags);
  const envFiles: string[] = [];
  for (const f of flags.envFile) envFiles.push(...parseEnvFile(await readFile(f, 'utf8').catch(() => { throw new UsageError(`env file ${f}: cannot read it`); }), f));
  await ensureImage(flags.root, image, parsePullPolicy(flags.pull));
  const opts: RunOptions = {
    root: flags.root, image, command, name: flags.name, labels: parseLabels(flags.label), stopSignal: flags.stopSignal, publishAll: flags.publishAll, expose: flags.expose, env: [...envFiles, ...flags.env], workdir: flags.workdir, user: flags.user,
    hostname: flags.hostname, network: flags.network, publish: flags.publish, addHosts: flags.addHost, dns: flags.dns, volumes: [...flags.volume, ...mounts.filter((m) => m.kind === 'volume').map((m) => m.spec)], tmpfs: [...flags.tmpfs, ...mounts.filter((m) => m.kind === 'tmpfs').map((m) => m.spec)], interactive: flags.interactive,
    tty: flags.tty, remove: flags.rm, mounter: flags.rootfs, forwardSignals: true, init: flags.init, logOutput: true,
    entrypoint: flags.entrypoint === undefined ? undefined : flags.entrypoint === '' ? [] : [flags.entrypoint],
    restart, logConfig, isolation,
    // As docker: written when the container exists, before it starts.
    onCreate: flags.cidfile === undefined ? undefined : idFileWriter(flags.cidfile),
  };
  return opts;
}

/**
 * `--cidfile`, as docker's CLI: the file is made before the container (a
 * path that cannot be written fails the command with nothing created), the
 * ID written into it once the container exists, and the file removed if it
 * never does.
 */
function idFileWriter(path: string): (state: { id: string }) => void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    throw new UsageError(`failed to create the container ID file: ${errorLine(err) ?? (err as Error).message}`);
  }
  let written = false;
  process.once('exit', () => {
    closeSync(fd);
    if (!written) rmSync(path, { force: true });
  });
  return (state) => {
    writeSync(fd, state.id);
    written = true;
  };
}
