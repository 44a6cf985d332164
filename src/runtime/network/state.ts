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
