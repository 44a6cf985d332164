/**
 * The address pool: `<store root>/network/leases.json`, one lease per address
 * in use, changed only under a lock of its own (`network/lock`, taken with
 * the store's lock module): parallel runs never get the same address, and a
 * pull holding the store lock never delays a run. A lease belongs to the
 * process that runs the container (the foreground runtime or its
 * supervisor): when that process is gone, or the host rebooted since (another
 * boot id), the lease is stale and its address free again. Stale leases are
 * handed back to the caller so it can take down what their container left
 * (veth, namespace file).
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LayerfsError } from '../../errors.js';
import { withLock } from '../../store/lock.js';
import { formatIp, gatewayOf, hostCount, parseIp, subnetText, type Subnet } from './ipv4.js';

export interface Lease {
  ip: string;
  /** The container's id and name (the name is what peers resolve). */
  id: string;
  name: string;
  /** The process owning it, with its start time (so a reused pid does not count) and the boot it ran in. */
  owner: number;
  ownerStart: string;
  boot: string;
}

export const networkDir = (root: string) => join(root, 'network');
const leasesFile = (root: string) => join(networkDir(root), 'leases.json');

const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or '' when the process is gone. */
export function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? '' : (fields[19] ?? '');
  } catch {
    return '';
  }
}

export function ownerOf(pid = process.pid): Pick<Lease, 'owner' | 'ownerStart' | 'boot'> {
  return { owner: pid, ownerStart: startTimeOf(pid), boot: bootId() };
}

export function isStale(lease: Lease): boolean {
  return lease.boot !== bootId() || startTimeOf(lease.owner) !== lease.ownerStart;
}

async function readLeases(root: string): Promise<Lease[]> {
  const text = await readFile(leasesFile(root), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '[]';
    throw err;
  });
  return JSON.parse(text) as Lease[];
}

async function writeLeases(root: string, leases: Lease[]): Promise<void> {
  const file = leasesFile(root);
  await writeFile(`${file}.tmp`, JSON.stringify(leases, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

/**
 * Runs `fn` under the pool's lock with the live leases (stale ones dropped);
 * the leases it returns are written back.
 */
export async function withLeases<T>(root: string, fn: (live: Lease[], stale: Lease[]) => Promise<{ leases: Lease[]; result: T }>): Promise<T> {
  await mkdir(networkDir(root), { recursive: true });
  return withLock(networkDir(root), async () => {
    const all = await readLeases(root);
    const stale = all.filter(isStale);
    const { leases, result } = await fn(all.filter((l) => !isStale(l)), stale);
    await writeLeases(root, leases);
    return result;
  });
}

/** The lowest free host address of the subnet (not the network, the gateway or the broadcast address). */
export function freeAddress(subnet: Subnet, taken: Lease[]): string {
  const used = new Set(taken.map((l) => parseIp(l.ip)));
  const last = subnet.base + hostCount(subnet) - 2;
  for (let ip = gatewayOf(subnet) + 1; ip <= last; ip++) if (!used.has(ip)) return formatIp(ip);
  throw new LayerfsError('NETWORK', `no free address left in ${subnetText(subnet)} (${taken.length} in use)`);
}
