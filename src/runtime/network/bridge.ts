/**
 * The host's bridge (layerfs0 by default): the containers' veths are its
 * ports and its address is their gateway. Made on the first run that needs it
 * and left in place afterwards, like docker0; `removeBridge` takes it down
 * with its NAT table (the tests use it, each on a bridge of its own).
 */
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { ipBatch, tool, toolQuiet } from './command.js';
import { configFile, type NetworkConfig } from './config.js';
import { formatIp, gatewayOf, macOf, overlaps, parseIp, subnetOf, subnetText } from './ipv4.js';

interface IpAddr { ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }
interface IpRoute { dst: string; dev?: string }

/** The nftables table holding the bridge's masquerade rule. */
export const natTable = (bridge: string) => `layerfs_${bridge.replace(/[^a-zA-Z0-9_]/g, '_')}`;

export async function ensureBridge(root: string, cfg: NetworkConfig): Promise<void> {
  const gateway = `${formatIp(gatewayOf(cfg.subnet))}/${cfg.subnet.prefix}`;
  const shown = await tool('ip', ['-j', 'addr', 'show', 'dev', cfg.bridge]).catch(() => null);
  if (shown === null) {
    await refuseOverlap(root, cfg);
    // A MAC of its own: otherwise a bridge takes its lowest port's, and the containers' gateway would change MAC as they come and go.
    const mac = macOf(gatewayOf(cfg.subnet));
    await ipBatch([`link add ${cfg.bridge} address ${mac} type bridge`, `addr add ${gateway} dev ${cfg.bridge}`, `link set ${cfg.bridge} up`]);
  } else {
    const addrs = ((JSON.parse(shown) as IpAddr[])[0]?.addr_info ?? []).filter((a) => a.family === 'inet');
    const want = formatIp(gatewayOf(cfg.subnet));
    if (addrs.length === 0) await ipBatch([`addr add ${gateway} dev ${cfg.bridge}`, `link set ${cfg.bridge} up`]);
    else if (!addrs.some((a) => a.local === want && a.prefixlen === cfg.subnet.prefix)) {
      const has = addrs.map((a) => `${a.local}/${a.prefixlen}`).join(', ');
      throw new UsageError(`bridge ${cfg.bridge} has address ${has}, not ${gateway} (${configFile(root)} wants subnet ${subnetText(cfg.subnet)})`);
    }
  }
  if (cfg.nat) await enableNat(cfg);
}

/** A subnet that overlaps a route the host already has would make part of the network unreachable. */
async function refuseOverlap(root: string, cfg: NetworkConfig): Promise<void> {
  const routes = JSON.parse(await tool('ip', ['-j', 'route', 'show'])) as IpRoute[];
  for (const r of routes) {
    if (r.dst === 'default' || r.dev === cfg.bridge) continue;
    const [addr, bits] = r.dst.split('/');
    const ip = parseIp(addr ?? '');
    if (ip === null) continue;
    const net = subnetOf(ip, bits === undefined ? 32 : Number(bits));
    if (overlaps(net, cfg.subnet)) {
      throw new UsageError(`subnet ${subnetText(cfg.subnet)} overlaps the host's route to ${r.dst}${r.dev ? ` on ${r.dev}` : ''}: set another "subnet" in ${configFile(root)}`);
    }
  }
}

/** Masquerade for traffic leaving the subnet through another interface, and forwarding on (a host-wide switch, as docker does). */
async function enableNat(cfg: NetworkConfig): Promise<void> {
  const t = natTable(cfg.bridge);
  await tool('nft', ['-f', '-'], [
    `add table ip ${t}`,
    `add chain ip ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `flush chain ip ${t} postrouting`,
    `add rule ip ${t} postrouting ip saddr ${subnetText(cfg.subnet)} oifname != "${cfg.bridge}" masquerade`,
  ].join('\n') + '\n');
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
}

/** Takes the bridge and its NAT table down (idempotent). Containers still on it lose their network. */
export async function removeBridge(cfg: NetworkConfig): Promise<void> {
  await toolQuiet('ip', ['link', 'del', cfg.bridge]);
  await toolQuiet('nft', ['delete', 'table', 'ip', natTable(cfg.bridge)]);
}
