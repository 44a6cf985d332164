/** What a container's record says about its network (`ContainerState.network`): `ps` shows the ports, `inspect` all of it. */

export interface PortMapping {
  /** The host address listened on ('0.0.0.0': all of them). */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: 'tcp' | 'udp';
}

export interface NetworkState {
  /** 'bridge', 'none', 'host' or 'container:<id>'. */
  mode: string;
  /** bridge only: */
  bridge?: string;
  ip?: string;
  prefixLen?: number;
  gateway?: string;
  mac?: string;
  /** The namespace file init joins (under `<root>/network/netns/`). */
  netns?: string;
  ports: PortMapping[];
}

/** docker ps's PORTS cell: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp`. */
export const portsText = (ports: PortMapping[]) => ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.proto}`).join(', ');

/** docker inspect's `NetworkSettings` of a container: empty addresses and ports once it no longer runs, as docker shows them. */
export function networkSettings(net: NetworkState | undefined, running: boolean): Record<string, unknown> {
  const live = running && net !== undefined;
  const ports: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of live ? net.ports : []) (ports[`${p.containerPort}/${p.proto}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  const endpoint = { IPAddress: (live && net.ip) || '', IPPrefixLen: (live && net.prefixLen) || 0, Gateway: (live && net.gateway) || '', MacAddress: (live && net.mac) || '' };
  return {
    SandboxKey: (live && net.netns) || '',
    Ports: ports,
    ...endpoint,
    Networks: net?.mode === 'bridge' ? { bridge: endpoint } : net ? { [net.mode]: endpoint } : {},
  };
}
