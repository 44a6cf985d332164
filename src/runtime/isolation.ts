/**
 * What a container is allowed: docker's defaults (its capability set, its
 * seccomp profile, masked kernel files, docker's devices), changed by
 * docker's flags. Parsed once from the flags, kept in the container's record
 * (so a later start or exec repeats it), and turned into layerfs-init's
 * arguments plus a cgroup.
 */
import { deviceInitArgs, parseDevice, resolveDevice, type Device } from './devices.js';
import { parseShmSize, parseUlimit, ulimitInitArgs, type Ulimit } from './ulimits.js';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus as hostCpus } from 'node:os';
import { UsageError } from '../errors.js';
import { parseBytes } from '../store/disk-space.js';
import { capabilityMask, capabilitySet, normalizeCapability } from './capabilities.js';
import { compileProfile, DEFAULT_PROFILE, parseDockerProfile, type SeccompProfile } from './seccomp.js';
import type { ResourceLimits } from './cgroups.js';

export type SeccompChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'file'; file: string; profile: SeccompProfile };

export interface IsolationOptions {
  /** All capabilities, no seccomp, no masks, /sys writable, the host's devices. */
  privileged: boolean;
  /** The root filesystem is mounted read-only (volumes, /dev, /proc, /tmp mounts are not). */
  readOnly: boolean;
  /** Normalized `CAP_X` names, or `ALL`. */
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  seccomp: SeccompChoice;
  /** /proc and /sys masks and read-only paths (`--security-opt systempaths=unconfined` turns them off). */
  maskPaths: boolean;
  limits: ResourceLimits;
  /** `--device`s, resolved to the host's nodes when the container was made (absent in older records). */
  devices?: Device[];
  /** `--ulimit`s and `--shm-size` (bytes; default docker's 64 MiB). */
  ulimits?: Ulimit[];
  shmSize?: number;
}

/** The flags as `layerfs run` takes them. */
export interface IsolationFlags {
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  privileged?: boolean;
  readOnly?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  device?: string[];
  ulimit?: string[];
  shmSize?: string;
}

export const DEFAULT_ISOLATION: IsolationOptions = {
  privileged: false, readOnly: false, capAdd: [], capDrop: [], noNewPrivileges: false, seccomp: { kind: 'default' }, maskPaths: true, limits: {},
};

function parseInteger(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`invalid ${flag} '${value}': expected an integer`);
  return Number(value);
}

async function securityOpts(opts: string[], iso: IsolationOptions): Promise<void> {
  for (const opt of opts) {
    // docker accepts both `key=value` and the older `key:value`.
    const m = /^([a-z-]+)(?:[=:](.*))?$/.exec(opt);
    const [key, value] = [m?.[1], m?.[2]];
    if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false')) iso.noNewPrivileges = value !== 'false';
    else if (key === 'seccomp' && value === 'unconfined') iso.seccomp = { kind: 'unconfined' };
    else if (key === 'seccomp' && value) {
      const text = await readFile(value, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`opening seccomp profile ${value}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
      });
      iso.seccomp = { kind: 'file', file: value, profile: parseDockerProfile(text, value) };
    } else if (key === 'systempaths' && value === 'unconfined') iso.maskPaths = false;
    // No AppArmor or SELinux on our hosts: their options are accepted and have no effect, as docker does without them.
    else if ((key === 'apparmor' || key === 'label') && value) continue;
    else throw new UsageError(`invalid --security-opt '${opt}': expected no-new-privileges, seccomp=unconfined|FILE, systempaths=unconfined`);
  }
}

/** Checks and normalizes the flags; every error is one line naming the flag. */
export async function parseIsolation(f: IsolationFlags): Promise<IsolationOptions> {
  const iso: IsolationOptions = {
    ...DEFAULT_ISOLATION,
    privileged: f.privileged === true,
    readOnly: f.readOnly === true,
    capAdd: (f.capAdd ?? []).flatMap((c) => c.split(',')).map(normalizeCapability),
    capDrop: (f.capDrop ?? []).flatMap((c) => c.split(',')).map(normalizeCapability),
    limits: {},
  };
  await securityOpts(f.securityOpt ?? [], iso);
  const l = iso.limits;
  if (f.memory !== undefined) {
    l.memory = parseBytes(f.memory, '--memory');
    if (l.memory < 6 * 1024 * 1024) throw new UsageError(`invalid --memory '${f.memory}': the minimum is 6m`);
  }
  if (f.memorySwap !== undefined) {
    l.memorySwap = f.memorySwap.trim() === '-1' ? -1 : parseBytes(f.memorySwap, '--memory-swap');
    if (l.memory === undefined) throw new UsageError('--memory-swap needs --memory too');
    if (l.memorySwap !== -1 && l.memorySwap < l.memory) throw new UsageError(`invalid --memory-swap '${f.memorySwap}': it must be at least --memory`);
  }
  if (f.cpus !== undefined) {
    const n = Number(f.cpus);
    const max = hostCpus().length;
    if (!/^\d*\.?\d+$/.test(f.cpus.trim()) || n < 0.01 || n > max) throw new UsageError(`invalid --cpus '${f.cpus}': the range is 0.01 to ${max}`);
    l.cpus = n;
  }
  if (f.cpuShares !== undefined) {
    l.cpuShares = parseInteger(f.cpuShares, '--cpu-shares');
    if (l.cpuShares < 2 || l.cpuShares > 262144) throw new UsageError(`invalid --cpu-shares '${f.cpuShares}': the range is 2 to 262144`);
  }
  if (f.pidsLimit !== undefined) l.pidsLimit = parseInteger(f.pidsLimit, '--pids-limit');
  if (f.device?.length) iso.devices = f.device.map((d) => resolveDevice(parseDevice(d)));
  if (f.ulimit?.length) iso.ulimits = [...new Map(f.ulimit.map(parseUlimit).map((u) => [u.Name, u])).values()];
  if (f.shmSize !== undefined) iso.shmSize = parseShmSize(f.shmSize);
  return iso;
}

/** The container's capabilities by name. */
export const capabilitiesOf = (iso: IsolationOptions): string[] => capabilitySet(iso.capAdd, iso.capDrop, iso.privileged);

/** layerfs-init's arguments for `iso`; the compiled seccomp profile is written to `seccompFile` when one applies. */
export async function confinementArgs(iso: IsolationOptions, seccompFile: string): Promise<string[]> {
  const caps = capabilitiesOf(iso);
  const args = ['-k', capabilityMask(caps)];
  const profile = iso.privileged ? null : iso.seccomp.kind === 'default' ? DEFAULT_PROFILE : iso.seccomp.kind === 'file' ? iso.seccomp.profile : null;
  if (profile) {
    await writeFile(seccompFile, compileProfile(profile, caps));
    args.push('-s', seccompFile);
  }
  if (iso.noNewPrivileges) args.push('-N');
  if (!iso.privileged && iso.maskPaths) args.push('-m');
  if (iso.privileged) args.push('-P');
  if (iso.readOnly) args.push('-R');
  for (const d of iso.devices ?? []) args.push(...deviceInitArgs(d));
  args.push(...ulimitInitArgs(iso.ulimits ?? []));
  if (iso.shmSize !== undefined) args.push('-S', String(iso.shmSize));
  return args;
}
