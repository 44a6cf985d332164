/**
 * A container's network, from the runtime's side: `attachNetwork` before the
 * container's init starts, `detach()` (or `releaseNetwork` from any process,
 * for a container whose runtime died) when it ends.
 *
 *   bridge          an address from the pool, a namespace wired to the bridge
 *                   (endpoint.ts), the /etc files, the published ports' proxies
 *   none            a namespace of its own with only lo (init -n)
 *   host            the host's network
 *   container:NAME  the namespace of a running container (init -N)
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { findContainer, isLive, pathsOf } from '../containers.js';
import { shortId } from '../../oci/digest.js';
import { freeAddress, networkDir, ownerOf, withLeases, type Lease } from './address-pool.js';
import { ensureBridge } from './bridge.js';
import { loadNetworkConfig } from './config.js';
import { createEndpoint, removeEndpoint } from './endpoint.js';
import { bridgeHosts, etcPaths, hostHosts, isolatedHosts, resolvConf, updatePeers, type EtcFiles, type ExtraHost } from './etc-files.js';
import { formatIp, gatewayOf, parseIp } from './ipv4.js';
import { parsePublish, publish, type Publisher } from './ports.js';
import type { NetworkState, PortMapping } from './state.js';

export interface AttachRequest {
  root: string;
  id: string;
  name: string;
  hostname: string;
  /** bridge (the default), none, host or container:NAME|ID. */
  mode?: string;
  /** `-p` values. */
  publish?: string[];
  /** `--add-host HOST:IP` values (IP may be `host-gateway`: the bridge's address). */
  addHosts?: string[];
  /** `--dns` nameservers. */
  dns?: string[];
  /** The process the address lease belongs to (default: this one, which must outlive the container). */
  owner?: number;
  log?: (msg: string) => void;
}

export interface Attachment {
  state: NetworkState;
  /** For init: share the host's network, or join this namespace file (otherwise a new, empty one). */
  hostNetwork: boolean;
  netns?: string;
  /** container:NAME: that container's hostname, which this one takes (as docker does). */
  hostname?: string;
  /** Host paths of the container's /etc/hostname, /etc/hosts and /etc/resolv.conf, to bind-mount. */
  etcFiles: EtcFiles;
  /** Stops the port proxies and gives back the address, veth and namespace. Idempotent. */
  detach(): Promise<void>;
}

function parseAddHost(spec: string): ExtraHost {
  const at = spec.lastIndexOf(':');
  const host = spec.slice(0, at);
  const ip = spec.slice(at + 1);
  if (at <= 0 || !/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(host) || (ip !== 'host-gateway' && parseIp(ip) === null)) {
    throw new UsageError(`invalid --add-host '${spec}': want HOST:IP, like db:10.77.0.5`);
  }
  return { host, ip };
}

export async function attachNetwork(req: AttachRequest): Promise<Attachment> {
  const mode = req.mode ?? 'bridge';
  const log = req.log ?? ((m: string) => process.stderr.write(`layerfs: ${m}\n`));
  let ports = (req.publish ?? []).map(parsePublish);
  const extra = (req.addHosts ?? []).map(parseAddHost);
  for (const d of req.dns ?? []) if (parseIp(d) === null) throw new UsageError(`invalid --dns '${d}': want an IPv4 address`);
  if (ports.length > 0 && mode !== 'bridge') {
    if (mode.startsWith('container:')) throw new UsageError('conflicting options: port publishing and the container type network mode');
    log(`published ports are discarded when using ${mode} network mode`);
    ports = [];
  }
  const cfg = await loadNetworkConfig(req.root);
  const gateway = formatIp(gatewayOf(cfg.subnet));
  const hosts = extra.map((e) => (e.ip === 'host-gateway' ? { ...e, ip: gateway } : e));
  const files = etcPaths(req.root, req.id);
  const dns = req.dns?.length ? req.dns : cfg.dns;
  const noop = async () => undefined;

  if (mode === 'none' || mode === 'host') {
    const host = mode === 'host';
    await writeFile(files.hostname, `${req.hostname}\n`);
    await writeFile(files.hosts, host ? await hostHosts(req.hostname, hosts) : isolatedHosts(req.hostname, hosts));
    await writeFile(files['resolv.conf'], await resolvConf(dns, host));
    return { state: { mode, ports: [] }, hostNetwork: host, etcFiles: files, detach: noop };
  }
  if (mode.startsWith('container:')) {
    const other = await findContainer(req.root, mode.slice('container:'.length));
    if (!isLive(other)) throw new UsageError(`cannot join the network of container ${other.name}: it is not running`);
    // Its namespace file when it has one; else its PID 1's namespace (the pid file comes just after it starts).
    const netns = other.network?.netns ?? `/proc/${await pidOf(req.root, other.id)}/ns/net`;
    // Its /etc/hostname, /etc/hosts and resolv.conf, and its hostname (set in a UTS namespace of our own), as docker does.
    const theirs = etcPaths(req.root, other.id);
    return {
      state: { mode: `container:${other.id}`, ports: [] },
      hostNetwork: false,
      netns,
      hostname: other.config?.hostname ?? shortId(other.id),
      etcFiles: theirs,
      detach: noop,
    };
  }
  if (mode !== 'bridge') throw new UsageError(`invalid --network '${mode}': want bridge, none, host or container:NAME`);

  await writeFile(files.hostname, `${req.hostname}\n`);
  await writeFile(files['resolv.conf'], await resolvConf(dns, false));
  const ip = await withLeases(req.root, async (live, stale) => {
    await ensureBridge(req.root, cfg);
    for (const s of stale) await removeEndpoint(req.root, s.id);
    const lease: Lease = { ip: freeAddress(cfg.subnet, live), id: req.id, name: req.name, ...ownerOf(req.owner) };
    await writeFile(files.hosts, bridgeHosts(lease.ip, [req.hostname, req.name], hosts, live));
    const leases = [...live, lease];
    await updatePeers(req.root, leases);
    return { leases, result: lease.ip };
  });
  let publisher: Publisher | undefined;
  try {
    const { netns, mac } = await createEndpoint(req.root, req.id, cfg, ip);
    publisher = await publish(ports, ip);
    const state: NetworkState = {
      mode, bridge: cfg.bridge, ip, prefixLen: cfg.subnet.prefix, gateway, mac, netns, ports: publisher.ports,
    };
    let detached: Promise<void> | undefined;
    const detach = () => (detached ??= publisher!.stop().finally(() => releaseNetwork(req.root, req.id)));
    return { state, hostNetwork: false, netns, etcFiles: files, detach };
  } catch (err) {
    await publisher?.stop();
    await releaseNetwork(req.root, req.id);
    throw err;
  }
}

/**
 * Gives back what a container held on the bridge: its lease (and its name in
 * the others' hosts files), veth and namespace file. Idempotent, and works for
 * a container whose runtime is gone (its port proxies died with it).
 */
export async function releaseNetwork(root: string, id: string): Promise<void> {
  if (!existsSync(networkDir(root))) return; // no container of this store was ever on the bridge
  const gone = await withLeases(root, async (live, stale) => {
    const leases = live.filter((l) => l.id !== id);
    await updatePeers(root, leases);
    return { leases, result: stale.map((s) => s.id) };
  });
  for (const other of new Set([id, ...gone])) await removeEndpoint(root, other);
}

export type { NetworkState, PortMapping };

async function pidOf(root: string, id: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const pid = Number.parseInt(await readFile(pathsOf(root, id).pid, 'utf8').catch(() => ''), 10);
    if (pid > 0) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new UsageError(`cannot join the network of container ${id}: it has no PID 1`);
}
