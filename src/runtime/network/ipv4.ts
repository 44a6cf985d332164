/** IPv4 addresses and subnets as numbers: the pool hands out host numbers of a subnet. */
import { UsageError } from '../../errors.js';

export interface Subnet {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(text: string): number | null {
  const m = OCTETS.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export const formatIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

export function parseSubnet(cidr: string): Subnet {
  const [addr, bits] = cidr.split('/');
  const ip = parseIp(addr ?? '');
  const prefix = Number(bits);
  if (ip === null || !Number.isInteger(prefix) || prefix < 8 || prefix > 29) {
    throw new UsageError(`invalid subnet '${cidr}': want an IPv4 CIDR from /8 to /29, like 10.77.0.0/16`);
  }
  return subnetOf(ip, prefix);
}

/** The subnet of `ip` with `prefix` bits (0-32). */
export function subnetOf(ip: number, prefix: number): Subnet {
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { base: (ip & mask) >>> 0, prefix };
}

export const subnetText = (s: Subnet) => `${formatIp(s.base)}/${s.prefix}`;
export const hostCount = (s: Subnet) => 2 ** (32 - s.prefix);
/** The gateway (the bridge's own address) is the subnet's first host, as docker0's 172.17.0.1. */
export const gatewayOf = (s: Subnet) => s.base + 1;
export const contains = (s: Subnet, ip: number) => ip >= s.base && ip < s.base + hostCount(s);
export const overlaps = (a: Subnet, b: Subnet) => contains(a, b.base) || contains(b, a.base);

/** A locally administered MAC made from the address (docker's 02:42 scheme, with our own second byte). */
export const macOf = (ip: number) => ['02', '4c', ...[24, 16, 8, 0].map((s) => ((ip >>> s) & 255).toString(16).padStart(2, '0'))].join(':');
