/**
 * `--chown=USER[:GROUP]` of COPY and ADD: names are looked up in the image's
 * own /etc/passwd and /etc/group, numbers taken as they are. A user without a
 * group gets the same number as its gid, as Docker's documentation says.
 */
import { DockerfileError } from '../errors.js';
import { readImageFile } from '../runtime/rootfs-paths.js';
import { parseGroup, parsePasswd } from '../runtime/users.js';

const numeric = (s: string) => /^\d+$/.test(s);

export async function chownIds(rootfs: string, spec: string): Promise<{ uid: number; gid: number }> {
  const [user = '', group] = spec.split(':', 2);
  const lookupUser = async () => {
    if (numeric(user)) return Number(user);
    const entry = parsePasswd((await readImageFile(rootfs, '/etc/passwd')) ?? '').find((u) => u.name === user);
    if (!entry) throw new DockerfileError(`--chown=${spec}: no user '${user}' in the image's /etc/passwd`);
    return entry.uid;
  };
  const uid = await lookupUser();
  if (group === undefined || group === '') return { uid, gid: uid };
  if (numeric(group)) return { uid, gid: Number(group) };
  const entry = parseGroup((await readImageFile(rootfs, '/etc/group')) ?? '').find((g) => g.name === group);
  if (!entry) throw new DockerfileError(`--chown=${spec}: no group '${group}' in the image's /etc/group`);
  return { uid, gid: entry.gid };
}
