/**
 * A container's end of the bridge: a network namespace kept in a file
 * (`<root>/network/netns/<id>`, an nsfs bind mount made by `unshare --net=FILE`)
 * and a veth pair, `lfv<12 hex of the id>` on the bridge and `eth0` in the
 * namespace with the container's address, MAC and default route. The
 * namespace is complete before the container's init joins it (init -N).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ipBatch, tool, toolQuiet } from './command.js';
import { networkDir } from './address-pool.js';
import type { NetworkConfig } from './config.js';
import { formatIp, gatewayOf, macOf, parseIp } from './ipv4.js';

export const netnsPath = (root: string, id: string) => join(networkDir(root), 'netns', id);
export const vethName = (id: string) => `lfv${id.slice(0, 12)}`;

export async function createEndpoint(root: string, id: string, cfg: NetworkConfig, ip: string): Promise<{ netns: string; mac: string }> {
  const netns = netnsPath(root, id);
  const veth = vethName(id);
  const mac = macOf(parseIp(ip)!);
  await mkdir(join(networkDir(root), 'netns'), { recursive: true });
  await writeFile(netns, '', { mode: 0o444 });
  await tool('unshare', [`--net=${netns}`, 'true']);
  await ipBatch([`link add ${veth} type veth peer name eth0 netns ${netns}`, `link set ${veth} master ${cfg.bridge} up`]);
  await ipBatch([
    'link set lo up',
    `link set eth0 address ${mac}`,
    `addr add ${ip}/${cfg.subnet.prefix} dev eth0`,
    'link set eth0 up',
    `route add default via ${formatIp(gatewayOf(cfg.subnet))} dev eth0`,
  ], netns);
  return { netns, mac };
}

/** Idempotent: the veth (its peer goes with it), the namespace's mount and file. */
export async function removeEndpoint(root: string, id: string): Promise<void> {
  const netns = netnsPath(root, id);
  await toolQuiet('ip', ['link', 'del', vethName(id)]);
  await toolQuiet('umount', [netns]);
  await rm(netns, { force: true });
}
