/**
 * `--device HOST[:CONTAINER[:PERMS]]`: a host device node made again in the
 * container (same type, numbers, mode and owner, as runc does) and let
 * through the devices cgroup with PERMS (default rwm).
 */
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { UsageError } from '../errors.js';

export interface DeviceSpec {
  host: string;
  container: string;
  permissions: string;
}

/** What `--device` names, as the container sees it and the cgroup allows it. */
export interface Device extends DeviceSpec {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** Permission bits and owner, taken from the host node. */
  mode: number;
  uid: number;
  gid: number;
}

export function parseDevice(spec: string): DeviceSpec {
  const [host = '', second, third, ...rest] = spec.split(':');
  // The second field is PERMS when it looks like one (docker's `--device /dev/x:rw`).
  const secondIsPerms = second !== undefined && third === undefined && /^[rwm]+$/.test(second);
  const container = secondIsPerms || second === undefined || second === '' ? host : second;
  const permissions = (secondIsPerms ? second : third) ?? 'rwm';
  if (rest.length > 0 || !posix.isAbsolute(host) || !posix.isAbsolute(container)) throw new UsageError(`invalid --device '${spec}': use HOST[:CONTAINER[:PERMS]] with absolute paths`);
  if (!/^[rwm]{1,3}$/.test(permissions)) throw new UsageError(`invalid --device '${spec}': PERMS is a combination of r, w and m`);
  return { host, container: posix.normalize(container), permissions };
}

/** The host node `spec` names; a clear error if it is none. */
export function resolveDevice(spec: DeviceSpec): Device {
  let st;
  try {
    st = statSync(spec.host);
  } catch (err) {
    throw new UsageError(`error gathering device information while adding custom device "${spec.host}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new UsageError(`error gathering device information while adding custom device "${spec.host}": not a device node`);
  const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn) | Number((BigInt(st.rdev) >> 32n) & ~0xfffn);
  const minor = Number(BigInt(st.rdev) & 0xffn) | Number((BigInt(st.rdev) >> 12n) & ~0xffn);
  return { ...spec, type: st.isCharacterDevice() ? 'c' : 'b', major, minor, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** The devices cgroup rule (`c 10:229 rwm`). */
export const deviceCgroupRule = (d: Device) => `${d.type} ${d.major}:${d.minor} ${d.permissions}`;

/** layerfs-init's `-D PATH TYPE:MAJOR:MINOR:MODE:UID:GID`. */
export const deviceInitArgs = (d: Device): string[] => ['-D', d.container, `${d.type}:${d.major}:${d.minor}:${d.mode.toString(8)}:${d.uid}:${d.gid}`];
