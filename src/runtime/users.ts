/**
 * `-u USER` and the image's `User` as docker reads them: `name`, `uid`,
 * `name:group` or `uid:gid`, looked up in the container's own /etc/passwd
 * and /etc/group (never the host's). Supplementary groups are the groups
 * that list the user by name.
 */
import { UsageError } from '../errors.js';

export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const numeric = (s: string) => /^\d+$/.test(s);

export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).flatMap((f) =>
    f.length >= 7 && numeric(f[2]!) && numeric(f[3]!) ? [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }] : [],
  );
}

export function parseGroup(text: string): GroupEntry[] {
  return lines(text).flatMap((f) =>
    f.length >= 4 && numeric(f[2]!) ? [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) }] : [],
  );
}

function lines(text: string): string[][] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

/**
 * Resolves `spec` against the container's files (null when the image has no
 * such file). A numeric uid missing from passwd is allowed, with gid 0 and
 * home `/`, as docker does; an unknown name is an error.
 */
export function resolveUser(spec: string, passwd: string | null, group: string | null): Identity {
  const users = passwd === null ? [] : parsePasswd(passwd);
  const groups = group === null ? [] : parseGroup(group);
  const [userPart = '', groupPart] = spec === '' ? ['root'] : spec.split(':', 2);
  const byName = users.find((u) => u.name === userPart);
  const entry = byName ?? (numeric(userPart) ? users.find((u) => u.uid === Number(userPart)) : undefined);
  if (entry === undefined && !numeric(userPart)) {
    if (userPart === 'root' && users.length === 0) return { uid: 0, gid: 0, groups: [0], home: '/' };
    throw new UsageError(`unable to find user ${userPart}: no matching entries in the container's /etc/passwd`);
  }
  const uid = entry?.uid ?? Number(userPart);
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined && groupPart !== '') {
    const g = groups.find((x) => x.name === groupPart) ?? (numeric(groupPart) ? { gid: Number(groupPart) } : undefined);
    if (g === undefined) throw new UsageError(`unable to find group ${groupPart}: no matching entries in the container's /etc/group`);
    gid = g.gid;
  }
  const extra = entry === undefined ? [] : groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid);
  // An explicit group replaces the passwd one; supplementary groups come from membership only.
  const supplementary = [...new Set([gid, ...extra])];
  return { uid, gid, groups: supplementary, home: entry?.home || '/' };
}
