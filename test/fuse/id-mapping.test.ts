/**
 * podman's uidmapping/gidmapping and squash_to_* options, on a real mount:
 * ids on disk are shown mapped, and ids written through the mount are stored
 * unmapped, so the same layers serve any user namespace.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountLayerfs, sh, unmountAll } from '../helpers/mounts.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-ids-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function layers() {
  const d = join(root, String(n++));
  const [l, u, w, m] = ['l', 'u', 'w', 'm'].map((s) => join(d, s)) as [string, string, string, string];
  for (const x of [l, u, w, m]) mkdirSync(x, { recursive: true });
  writeFileSync(join(l, 'root-file'), 'r');
  writeFileSync(join(l, 'user-file'), 'u');
  chownSync(join(l, 'user-file'), 1000, 1000);
  return { l, u, w, m };
}

const rows = [
  { name: "podman's uidmapping with its leading colon", opts: ['uidmapping=:0:100000:65536', 'gidmapping=:0:100000:65536'], root: 100000, user: 101000 },
  { name: 'several ranges', opts: ['uidmapping=0:5000:1:1:200000:65536', 'gidmapping=0:5000:1:1:200000:65536'], root: 5000, user: 200999 },
  { name: 'squash_to_uid/gid', opts: ['squash_to_uid=1234', 'squash_to_gid=4321'], root: 1234, user: 1234, gid: 4321 },
];

it.each(rows)('$name: ids are shown mapped', async ({ opts, root: shownRoot, user, ...rest }) => {
  const { l, u, w, m } = layers();
  await mountLayerfs({ lowerdirs: [l], upperdir: u, workdir: w }, m, opts);
  expect(lstatSync(join(m, 'root-file')).uid).toBe(shownRoot);
  expect(lstatSync(join(m, 'user-file')).uid).toBe(user);
  expect(lstatSync(join(m, 'root-file')).gid).toBe('gid' in rest ? rest.gid : shownRoot);
});

it('a file written by a mapped user is stored with the unmapped id', async () => {
  const { l, u, w, m } = layers();
  await mountLayerfs({ lowerdirs: [l], upperdir: u, workdir: w }, m, ['uidmapping=0:100000:65536', 'gidmapping=0:100000:65536']);
  await sh('chmod 777 .', m);
  expect(await sh('echo hi > mine', m, 100000)).toEqual({ code: 0, out: '' });
  expect(await sh('chown 101000:101000 root-file', m)).toEqual({ code: 0, out: '' });
  expect(lstatSync(join(m, 'mine')).uid).toBe(100000);
  expect(lstatSync(join(u, 'mine')).uid).toBe(0);
  expect(lstatSync(join(u, 'root-file')).uid).toBe(1000);
  expect(lstatSync(join(m, 'root-file')).uid).toBe(101000);
});
