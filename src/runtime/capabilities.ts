/**
 * Linux capabilities by name, docker's default set, and `--cap-add`/`--cap-drop`
 * applied to it the way docker does: names with or without `CAP_`, any case,
 * or `ALL`; adding wins over dropping only when the drop is `ALL`.
 */
import { UsageError } from '../errors.js';

/** Capability numbers from linux/capability.h (CAP_CHOWN is 0 ... CAP_CHECKPOINT_RESTORE is 40). */
export const CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** Docker's default set (moby's oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** `sys_admin`, `CAP_SYS_ADMIN`, `all` → `CAP_SYS_ADMIN` / `ALL`; an unknown name is a usage error. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAPABILITIES.includes(full)) throw new UsageError(`unknown capability: '${name}'`);
  return full;
}

/** The set a container gets: the defaults, minus the drops, plus the adds (all of them with `--privileged`). */
export function capabilitySet(add: string[], drop: string[], privileged = false): string[] {
  if (privileged || add.includes('ALL')) return [...CAPABILITIES].filter((c) => privileged || !drop.includes(c));
  const base = drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  return CAPABILITIES.filter((c) => base.includes(c) || add.includes(c));
}

/** The set as the bit mask layerfs-init takes (`-k`, hex). */
export const capabilityMask = (caps: string[]): string =>
  caps.reduce((mask, c) => mask | (1n << BigInt(CAPABILITIES.indexOf(c))), 0n).toString(16);
