/**
 * `run`: find the image, create a container, mount its layers under a fresh
 * upper dir, start the command in its own namespaces, wait, clean up.
 *
 * The runtime is the container's only supervisor (there is no daemon): it
 * watches both the command and the FUSE daemon serving the rootfs. If the
 * daemon dies first, the container is killed and marked failed; either way
 * the rootfs is unmounted before `runContainer` returns.
 */
import { stat } from 'node:fs/promises';
import { LayerfsError } from '../errors.js';
import { Store } from '../store/store.js';
import { ensureBuiltin } from '../store/hello-world.js';
import { createContainer, newId, pathsOf, removeContainerDir, saveState, type ContainerState } from './containers.js';
import { shortId } from '../oci/digest.js';
import { startInit, type InitProcess } from './init.js';
import { processSpec, withHome } from './process-spec.js';
import { mounters, type MounterName, type RootfsMount } from './rootfs.js';
import { makeInitLayer } from './init-layer.js';
import { ensureDir, parseVolume, prepareVolumes, readImageFile } from './rootfs-paths.js';
import { resolveUser } from './users.js';
import { confinementArgs, DEFAULT_ISOLATION, type IsolationOptions } from './isolation.js';
import { createCgroup, type ContainerCgroup } from './cgroups.js';
import { attachNetwork, type Attachment } from './network/attach.js';

/** The runtime's own exit status when it, not the command, failed (docker's convention). */
export const RUNTIME_FAILED = 125;

export interface RunOptions {
  /** The store root (Store.open's default when omitted). */
  root?: string;
  image: string;
  /** CMD...: replaces the image's Cmd. */
  command?: string[];
  /** Replaces the image's Entrypoint ([] for none: a build's RUN ignores it). */
  entrypoint?: string[];
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  /** bridge (the default), none, host or container:NAME. */
  network?: string;
  /** `-p [IP:][HOSTPORT:]CTRPORT[/tcp|udp]` values, `--add-host HOST:IP` values, `--dns` servers. */
  publish?: string[];
  addHosts?: string[];
  dns?: string[];
  /** `HOSTDIR:CTRDIR[:ro]` */
  volumes?: string[];
  interactive?: boolean;
  tty?: boolean;
  /** Remove the container afterwards, whatever happened. */
  remove?: boolean;
  mounter?: MounterName;
  /** Forward SIGINT, SIGTERM and SIGHUP of this process to the container. */
  forwardSignals?: boolean;
  /** File descriptors for the command's stdout and stderr (default: ours). */
  stdout?: number;
  stderr?: number;
  /** Called once the command runs. */
  onStart?: (state: ContainerState) => void;
  /** Messages from the runtime itself (default: stderr). */
  log?: (msg: string) => void;
  /** Capabilities, seccomp, masks, limits (default: docker's defaults). */
  isolation?: IsolationOptions;
}

export interface RunResult {
  id: string;
  name: string;
  exitCode: number;
  status: ContainerState['status'];
  error?: string;
}

const isDisconnected = (path: string) => stat(path).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOTCONN');

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export async function runContainer(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`layerfs: ${m}\n`));
  const store = await Store.open(opts.root);
  const img = await ensureBuiltin(store, opts.image);
  const config = await store.config(img);
  const id = newId();
  const hostname = opts.hostname ?? shortId(id);
  const imageConfig = opts.entrypoint ? { ...config.config, Entrypoint: opts.entrypoint } : config.config;
  const spec = processSpec(imageConfig, { command: opts.command ?? [], env: opts.env, workdir: opts.workdir, user: opts.user, hostname, tty: opts.tty });
  const binds = (opts.volumes ?? []).map(parseVolume);
  const mounter = mounters[opts.mounter ?? 'layerfs'];
  const isolation = opts.isolation ?? DEFAULT_ISOLATION;
  const layers = store.layerDirs(img);
  const state = await createContainer(store.root, {
    id, name: opts.name, image: opts.image, imageId: img.id, layers, args: spec.args, mounter: mounter.name, isolation,
  });
  const paths = pathsOf(store.root, id);
  try {
    await store.hold(id, img.id, `container ${state.name}`);
  } catch (err) {
    await removeContainerDir(store.root, id);
    throw err;
  }

  let mount: RootfsMount | undefined;
  let net: Attachment | undefined;
  let rootfsDied = false;
  let init: InitProcess | undefined;
  let cgroup: ContainerCgroup | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const stopForwarding: Array<() => void> = [];
  // A signal during set-up stops the start (and cleans up); afterwards it goes to the container.
  for (const sig of opts.forwardSignals ? FORWARDED : []) {
    const forward = () => (init ? void init.kill(sig) : (interrupted ??= sig));
    process.on(sig, forward);
    stopForwarding.push(() => process.off(sig, forward));
  }
  try {
    net = await attachNetwork({ root: store.root, id, name: state.name, hostname, mode: opts.network, publish: opts.publish, addHosts: opts.addHosts, dns: opts.dns, log });
    state.network = net.state;
    const etcBinds = await makeInitLayer(paths, layers, net.etcFiles);
    mount = await mounter.mount({ lowerdirs: [paths.init, ...layers], upperdir: paths.upper, workdir: paths.work, merged: paths.merged, log: paths.log });
    void mount.closed.then((end) => (rootfsDied = end === 'died'));
    state.fusePid = mount.pid;

    const user = resolveUser(spec.user, await readImageFile(paths.merged, '/etc/passwd'), await readImageFile(paths.merged, '/etc/group'));
    await ensureDir(paths.merged, spec.cwd);
    await prepareVolumes(paths.merged, binds);

    const confinement = await confinementArgs(isolation, `${paths.dir}/seccomp`);
    cgroup = await createCgroup(id, isolation.limits, !isolation.privileged);
    if (interrupted) throw new LayerfsError('INTERRUPTED', `${interrupted} before the container started`);
    init = startInit({
      rootfs: paths.merged, args: spec.args, env: withHome(spec.env, user.home), cwd: spec.cwd, hostname,
      uid: user.uid, gid: user.gid, groups: user.groups, hostNetwork: net.hostNetwork, netns: net.netns, binds: [...etcBinds, ...binds],
      tty: opts.tty === true, pidFile: paths.pid, confinement, cgroups: cgroup.dirs,
    }, { interactive: opts.interactive === true || opts.tty === true, stdout: opts.stdout, stderr: opts.stderr });
    state.status = 'running';
    state.initPid = init.pid;
    state.runtimePid = process.pid;
    await saveState(store.root, state);
    opts.onStart?.(state);

    const first = await Promise.race([init.exited.then((code) => ({ kind: 'exited' as const, code })), mount.closed.then(() => ({ kind: 'rootfs' as const }))]);
    if (first.kind === 'rootfs' && rootfsDied) {
      await init.kill('SIGKILL');
      await init.exited.catch(() => undefined);
    }
    const code = first.kind === 'exited' ? first.code : await init.exited;
    // A command that failed because the daemon died may exit before we hear of the daemon's exit; the mount already tells.
    if (rootfsDied || (await isDisconnected(paths.merged))) {
      state.status = 'failed';
      state.error = `the rootfs FUSE daemon (pid ${mount.pid}) died while the container ran`;
      state.exitCode = RUNTIME_FAILED;
      log(state.error);
    } else {
      state.status = 'exited';
      state.exitCode = code;
    }
    if (await cgroup.oomKilled()) state.oomKilled = true;
  } catch (err) {
    state.status = 'failed';
    state.error = (err as Error).message;
    state.exitCode = RUNTIME_FAILED;
    throw err;
  } finally {
    for (const stop of stopForwarding) stop();
    delete state.initPid;
    delete state.runtimePid;
    delete state.fusePid;
    state.finished = new Date().toISOString();
    try {
      await net?.detach().catch((err: Error) => log(`network teardown: ${err.message}`));
      await cgroup?.remove().catch((err: Error) => log(`removing the container's cgroup: ${err.message}`));
      await mount?.unmount();
    } finally {
      if (opts.remove) {
        await removeContainerDir(store.root, id);
        await store.release(id);
      }
      // A missing dir means `rm -f` took the container away while it ran: nothing left to record.
      else await saveState(store.root, state).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
    }
  }
  return { id, name: state.name, exitCode: state.exitCode ?? RUNTIME_FAILED, status: state.status, error: state.error };
}
