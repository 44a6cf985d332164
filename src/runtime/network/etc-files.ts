/**
 * The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, made on
 * the host in its container dir and bind-mounted by init (never written into
 * its layers). On the bridge, each hosts file ends with a section naming the
 * other containers of the store's bridge; it is rewritten in place (the bind
 * mount pins the inode) under the pool's lock whenever a container comes or
 * goes, which is how containers reach each other by name.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { containerDir } from '../containers.js';
import type { Lease } from './address-pool.js';

export type EtcFiles = { hostname: string; hosts: string; 'resolv.conf': string };

export const etcPaths = (root: string, id: string): EtcFiles => {
  const dir = containerDir(root, id);
  return { hostname: join(dir, 'hostname'), hosts: join(dir, 'hosts'), 'resolv.conf': join(dir, 'resolv.conf') };
};

export interface ExtraHost { host: string; ip: string }

const LOCAL = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
const IPV6 = 'fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
const PEERS = '# other containers on the bridge (kept up to date by layerfs)\n';

const extraLines = (extra: ExtraHost[]) => extra.map((e) => `${e.ip}\t${e.host}\n`).join('');
const peerLines = (peers: Lease[]) => peers.map((p) => `${p.ip}\t${p.name}\n`).join('');

/** docker's hosts file for a container on a bridge, its own names on its address, then the peers. */
export function bridgeHosts(ip: string, names: string[], extra: ExtraHost[], peers: Lease[]): string {
  return LOCAL + IPV6 + extraLines(extra) + `${ip}\t${[...new Set(names)].join(' ')}\n` + PEERS + peerLines(peers);
}

/** `--network none`: only itself, on 127.0.1.1 as Debian names a host without a network. */
export const isolatedHosts = (hostname: string, extra: ExtraHost[]) => LOCAL + `127.0.1.1\t${hostname}\n` + extraLines(extra);

/** `--network host`: the host's own file (a fresh one if it has none). */
export async function hostHosts(hostname: string, extra: ExtraHost[]): Promise<string> {
  const own = await readFile('/etc/hosts', 'utf8').catch(() => null);
  return (own ?? isolatedHosts(hostname, [])) + extraLines(extra);
}

/** Google's, docker's fallback when the host names only loopback resolvers a container cannot reach. */
export const FALLBACK_DNS = ['8.8.8.8', '8.8.4.4'];

/**
 * resolv.conf as docker makes it: the nameservers given (`--dns`, the
 * config's "dns"), else the host's without loopback ones (127.0.0.53 of
 * systemd-resolved answers only on the host's lo), else FALLBACK_DNS; the
 * host's search and options lines stay. With the host's network, the host's
 * loopback resolvers are reachable and kept.
 */
export async function resolvConf(dns: string[] | undefined, keepLoopback: boolean): Promise<string> {
  return resolvConfFrom(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''), dns, keepLoopback);
}

export function resolvConfFrom(hostText: string, dns: string[] | undefined, keepLoopback: boolean): string {
  const host = hostText.split('\n');
  const isServer = (l: string) => /^\s*nameserver\s/.test(l);
  const others = host.filter((l) => !isServer(l) && l.trim() !== '');
  let servers = host.filter(isServer).map((l) => l.trim().split(/\s+/)[1] ?? '');
  if (dns && dns.length > 0) servers = dns;
  else if (!keepLoopback) {
    servers = servers.filter((s) => !/^127\.|^::1$/.test(s));
    if (servers.length === 0) servers = FALLBACK_DNS;
  }
  return [...others, ...servers.map((s) => `nameserver ${s}`)].join('\n') + '\n';
}

/** Rewrites the peers section of each lease's hosts file in place; files without one (or gone) are left alone. */
export async function updatePeers(root: string, leases: Lease[]): Promise<void> {
  await Promise.all(leases.map(async (lease) => {
    const file = etcPaths(root, lease.id).hosts;
    const text = await readFile(file, 'utf8').catch(() => null);
    const at = text?.indexOf(PEERS) ?? -1;
    if (text == null || at < 0) return;
    const next = text.slice(0, at + PEERS.length) + peerLines(leases.filter((l) => l.id !== lease.id));
    if (next !== text) await writeFile(file, next);
  }));
}
