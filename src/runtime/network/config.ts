/**
 * The store's network settings, `<store root>/network.json` (every field
 * optional):
 *
 *   { "bridge": "layerfs0", "subnet": "10.77.0.0/16", "nat": false, "dns": ["192.0.2.53"] }
 *
 * 10.77.0.0/16 is clear of docker's default pools (172.17-31.0.0/16,
 * 192.168.0.0/16 in /20s), podman's (10.88.0.0/16, then 10.89.x.0/24) and the
 * usual Kubernetes pod and service ranges (10.42, 10.43, 10.244). `nat` adds a
 * masquerade rule for the subnet (outbound traffic through the host's uplink;
 * it turns on net.ipv4.ip_forward, as docker does). `dns` replaces the host's
 * nameservers in every container's resolv.conf (`run --dns` beats both).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { parseIp, parseSubnet, type Subnet } from './ipv4.js';

export interface NetworkConfig {
  bridge: string;
  subnet: Subnet;
  nat: boolean;
  dns?: string[];
}

export const DEFAULT_BRIDGE = 'layerfs0';
export const DEFAULT_SUBNET = '10.77.0.0/16';

export const configFile = (root: string) => join(root, 'network.json');

const IFNAME = /^[a-zA-Z0-9_.-]{1,15}$/;

export async function loadNetworkConfig(root: string): Promise<NetworkConfig> {
  const file = configFile(root);
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '{}';
    throw err;
  });
  let raw: { bridge?: unknown; subnet?: unknown; nat?: unknown; dns?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`);
  }
  const bridge = raw.bridge ?? DEFAULT_BRIDGE;
  if (typeof bridge !== 'string' || !IFNAME.test(bridge)) throw new UsageError(`${file}: invalid bridge name ${JSON.stringify(bridge)}`);
  const dns = raw.dns;
  if (dns !== undefined && (!Array.isArray(dns) || dns.some((d) => typeof d !== 'string' || parseIp(d) === null))) {
    throw new UsageError(`${file}: "dns" must be a list of IPv4 addresses`);
  }
  return { bridge, subnet: parseSubnet(String(raw.subnet ?? DEFAULT_SUBNET)), nat: raw.nat === true, dns: dns as string[] | undefined };
}
