/**
 * The init layer, like docker's `<id>-init`: a lower layer of the container's
 * own, above the image, holding what the runtime needs in the tree. It never
 * shows in diff or commit, and it is written before the rootfs is mounted
 * (a lower layer must not change under a mount).
 * - mount points for /proc, /dev and /sys, which even `FROM scratch` needs;
 * - when the image has an /etc dir: mount points for /etc/hostname,
 *   /etc/hosts and /etc/resolv.conf, which are bind-mounted from the files
 *   the network set-up made on the host (network/etc-files.ts). Its /etc
 *   takes the image's /etc metadata, so the merged /etc looks exactly like
 *   the image's.
 */
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resolver } from '../overlay/resolve.js';
import { ST, utimens } from '../sys.js';
import type { ContainerPaths } from './containers.js';
import type { Bind } from './init.js';

/** Host files to bind over /etc/NAME, by NAME (hostname, hosts, resolv.conf). */
export type EtcBinds = Record<string, string>;

/** Writes the init layer; returns the binds for the /etc files it made room for. */
export async function makeInitLayer(paths: ContainerPaths, imageLayers: string[], etcFiles: EtcBinds): Promise<Bind[]> {
  for (const d of ['proc', 'dev', 'sys']) await mkdir(join(paths.init, d), { recursive: true, mode: 0o755 });
  const etc = imageLayers.length > 0 ? new Resolver(imageLayers.map((root) => ({ root, upper: false }))).resolve('/etc') : null;
  if (etc?.kind !== 'found' || etc.dirs.length === 0) return [];

  const initEtc = join(paths.init, 'etc');
  const st = etc.stat;
  await mkdir(initEtc, { mode: st[ST.mode]! & 0o7777 });
  await chown(initEtc, st[ST.uid]!, st[ST.gid]!);
  const binds: Bind[] = [];
  for (const [name, source] of Object.entries(etcFiles)) {
    await writeFile(join(initEtc, name), '', { mode: 0o644 });
    binds.push({ source, target: `/etc/${name}`, readonly: false });
  }
  // Last, so creating the mount points does not move its mtime.
  utimens(initEtc, st[ST.atimeSec]!, st[ST.atimeNsec]!, st[ST.mtimeSec]!, st[ST.mtimeNsec]!);
  return binds;
}
