/** A container as `docker inspect` shows it. */
import { pathsOf, type ContainerState } from './containers.js';
import { configOf, parseTmpfs } from './run.js';
import { parseVolume } from './rootfs-paths.js';
import { networkSettings } from './network/state.js';
import { parsePublish } from './network/ports.js';
import { DEFAULT_ISOLATION, type IsolationOptions } from './isolation.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The --security-opt values the container was run with, as docker keeps them (null for none). */
function securityOpt(iso: IsolationOptions): string[] | null {
  const opts = [
    ...(iso.noNewPrivileges ? ['no-new-privileges'] : []),
    ...(iso.seccomp.kind === 'unconfined' ? ['seccomp=unconfined'] : iso.seccomp.kind === 'file' ? [`seccomp=${iso.seccomp.file}`] : []),
    ...(iso.maskPaths ? [] : ['systempaths=unconfined']),
  ];
  return opts.length ? opts : null;
}

/** HostConfig.PortBindings: the `-p` values as asked (docker leaves an unnamed IP or port ""), whether or not it runs. */
function portBindings(publish: string[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const spec of publish) {
    const p = parsePublish(spec);
    const hostIp = /^\d+\.\d+\.\d+\.\d+:/.test(spec) ? p.hostIp : '';
    (out[`${p.containerPort}/${p.proto}`] ??= []).push({ HostIp: hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' });
  }
  return out;
}

export function describeContainer(root: string, c: ContainerState): Record<string, unknown> {
  const config = configOf(c);
  const paths = pathsOf(root, c.id);
  const status = c.status === 'failed' ? 'exited' : c.status;
  const [path = '', ...args] = c.args;
  const isolation = c.isolation ?? DEFAULT_ISOLATION;
  const limits = isolation.limits ?? {};
  return {
    Id: c.id,
    Created: c.created,
    Path: path,
    Args: args,
    State: {
      Status: status,
      Running: c.status === 'running',
      Paused: false,
      Restarting: c.status === 'restarting',
      OOMKilled: c.oomKilled === true,
      Dead: false,
      Pid: c.status === 'running' ? c.pid ?? 0 : 0,
      ExitCode: c.exitCode ?? 0,
      Error: c.error ?? '',
      StartedAt: c.startedAt ?? ZERO_TIME,
      FinishedAt: c.finished ?? ZERO_TIME,
    },
    Image: c.imageId,
    LogPath: c.detached ? paths.output : '',
    Name: `/${c.name}`,
    RestartCount: c.restartCount ?? 0,
    Driver: c.mounter === 'kernel' ? 'overlay2' : 'layerfs',
    HostConfig: {
      Binds: config.volumes,
      NetworkMode: config.network,
      PortBindings: portBindings(config.publish),
      PublishAllPorts: config.publishAll === true,
      Dns: config.dns,
      ExtraHosts: config.addHosts,
      Privileged: isolation.privileged,
      ReadonlyRootfs: isolation.readOnly,
      Ulimits: isolation.ulimits ?? null,
      ShmSize: isolation.shmSize ?? 64 * 1024 * 1024,
      Devices: (isolation.devices ?? []).map((d) => ({ PathOnHost: d.host, PathInContainer: d.container, CgroupPermissions: d.permissions })),
      CapAdd: isolation.capAdd,
      CapDrop: isolation.capDrop,
      SecurityOpt: securityOpt(isolation),
      // docker's names and units; 0 (or null for PidsLimit) is unset, and --memory alone allows as much swap again.
      Memory: limits.memory ?? 0,
      MemorySwap: limits.memorySwap ?? (limits.memory !== undefined ? limits.memory * 2 : 0),
      NanoCpus: limits.cpus !== undefined ? Math.round(limits.cpus * 1e9) : 0,
      CpuShares: limits.cpuShares ?? 0,
      PidsLimit: limits.pidsLimit ?? null,
      RestartPolicy: { Name: config.restart.name, MaximumRetryCount: config.restart.maximumRetryCount },
      AutoRemove: config.autoRemove,
      LogConfig: { Type: 'json-file', Config: { ...(config.log.maxSize !== undefined ? { 'max-size': String(config.log.maxSize), 'max-file': String(config.log.maxFile) } : {}) } },
      Init: config.init,
      Tmpfs: Object.fromEntries(config.tmpfs.map((t) => parseTmpfs(t)).map((t) => [t.target, t.options])),
    },
    Mounts: config.volumes.map(parseVolume).map((b) => ({ Type: 'bind', Source: b.source, Destination: b.target, Mode: b.readonly ? 'ro' : '', RW: !b.readonly, Propagation: 'rprivate' })),
    GraphDriver: {
      Name: c.mounter === 'kernel' ? 'overlay2' : 'layerfs',
      Data: { LowerDir: [paths.init, ...c.layers].join(':'), MergedDir: paths.merged, UpperDir: paths.upper, WorkDir: paths.work },
    },
    Config: {
      Hostname: config.hostname,
      User: config.user,
      Tty: config.tty,
      OpenStdin: config.interactive,
      Env: config.env,
      Cmd: config.cmd,
      Image: c.image,
      WorkingDir: config.cwd,
      Entrypoint: config.entrypoint.length ? config.entrypoint : null,
      // As docker's (omitempty): absent when nothing is exposed.
      ...(config.exposedPorts?.length ? { ExposedPorts: Object.fromEntries(config.exposedPorts.map((p) => [p, {}])) } : {}),
      StopSignal: config.stopSignal,
      Labels: config.labels ?? {},
    },
    NetworkSettings: networkSettings(c.network, c.status === 'running'),
  };
}
