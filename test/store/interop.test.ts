/**
 * Interop with skopeo and podman (installed by scripts/setup.sh): archives
 * they write load, and the tree kernel overlayfs shows over the loaded layer
 * dirs is the same, to the nanosecond; archives `save` writes load into them,
 * keep the image ID, and podman runs our hello-world. podman gets a private
 * root and the flags REFERENCE.md lists for this machine.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HELLO_MESSAGE, loadBuiltin } from '../../src/store/hello-world.js';
import { loadArchive } from '../../src/store/load.js';
import { saveImages } from '../../src/store/save.js';
import { Store } from '../../src/store/store.js';
import type { ImageRecord } from '../../src/store/types.js';
import { mountKernel, unmountAll } from '../helpers/mounts.js';
import { snapshot } from '../helpers/tree.js';
import { ociLayout, sha, tarOf, tarOfFiles } from './fixtures.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'layerfs-interop-'));
afterEach(unmountAll);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(tmp, `${what}-${n++}`);

const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args]);
const PODMAN_ROOT = join(tmp, 'podman');
const podman = (...args: string[]) =>
  run('podman', [
    '--root', join(PODMAN_ROOT, 'graph'), '--runroot', join(PODMAN_ROOT, 'run'), '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', 'runc', ...args,
  ]);

const NS = (s: number) => ({ mtime: `${1600000000 + s}.123456789` });
const base = await tarOf([
  { name: 'etc/', pax: NS(1) },
  { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', pax: NS(2) },
  { name: 'usr/', pax: NS(3) },
  { name: 'usr/bin/', pax: NS(4) },
  { name: 'usr/bin/tool', content: 'v1\n', mode: 0o755, pax: NS(5) },
  { name: 'usr/bin/alias', type: 'symlink', linkname: 'tool', pax: NS(6) },
  { name: 'usr/bin/tool2', type: 'link', linkname: 'usr/bin/tool' },
  { name: 'var/', pax: NS(7) },
  { name: 'var/cache/', pax: NS(8) },
  { name: 'var/cache/a', content: 'a\n', pax: NS(9) },
  { name: 'home/', pax: NS(10) },
  { name: 'home/user/', uid: 1000, gid: 1000, mode: 0o700, pax: NS(11) },
  { name: 'home/user/notes', content: 'n\n', uid: 1000, gid: 1000, mode: 0o600, pax: { ...NS(12), 'SCHILY.xattr.user.tag': 'blue' } },
]);
const change = await tarOf([
  { name: 'etc/', pax: NS(20) },
  { name: 'etc/.wh.passwd' },
  { name: 'var/', pax: NS(7) },
  { name: 'var/cache/', pax: NS(21) },
  { name: 'var/cache/.wh..wh..opq' },
  { name: 'var/cache/b', content: 'b\n', pax: NS(22) },
  { name: 'opt/', pax: NS(23) },
  { name: 'opt/suid', content: 's\n', mode: 0o4755, pax: NS(24) },
]);

/** The image's merged tree as kernel overlayfs shows it. */
async function mergedTree(store: Store, img: ImageRecord) {
  const mnt = fresh('mnt');
  mkdirSync(mnt);
  await mountKernel({ lowerdirs: store.layerDirs(img) }, mnt);
  const snap = snapshot(mnt, { since: 2n ** 62n });
  delete snap['.']; // the mount root's times are the top layer dir's, made by whoever unpacked it
  return snap;
}

async function ours(): Promise<{ store: Store; img: ImageRecord; archive: string }> {
  const store = await Store.open(fresh('store'));
  const input = fresh('in') + '.tar';
  writeFileSync(input, await tarOfFiles(ociLayout([{ layers: [base, change], tag: 'rich:1', compression: 'gzip' }])));
  const [img] = await loadArchive(store, input);
  const archive = fresh('saved') + '.tar';
  await saveImages(store, ['rich:1'], archive);
  return { store, img: img!, archive };
}

describe('skopeo', () => {
  it.each([
    ['docker-archive', (p: string) => `docker-archive:${p}.tar:rich:1`, []],
    ['OCI layout directory', (p: string) => `oci:${p}:rich:1`, []],
    ['oci-archive with zstd layers', (p: string) => `oci-archive:${p}.tar:rich:1`, ['--dest-compress', '--dest-compress-format', 'zstd']],
  ] as const)('an archive skopeo writes from our save (%s) loads to the same tree', async (_name, dest, flags) => {
    const { store, img, archive } = await ours();
    const out = fresh('skopeo');
    const target = dest(out);
    await skopeo('copy', ...flags, `oci-archive:${archive}:rich:1`, target);
    const again = await Store.open(fresh('store'));
    const [loaded] = await loadArchive(again, target.split(':')[1]!);
    // skopeo writes the bare `rich:1` as ref.name; podman load names it localhost/rich:1 from an
    // archive and after the directory from a layout directory, and so do we (docker-archive keeps RepoTags).
    const expected = _name === 'docker-archive' ? 'rich:1' : _name === 'OCI layout directory' ? `localhost${out.toLowerCase()}:latest` : 'localhost/rich:1';
    expect(loaded!.repoTags).toEqual([expected]);
    expect(loaded!.layers.map((l) => l.diffId)).toEqual([sha(base), sha(change)]);
    const tree = await mergedTree(again, loaded!);
    expect(tree['etc/passwd']).toBeUndefined();
    expect(Object.keys(tree).filter((k) => k.startsWith('var/cache/'))).toEqual(['var/cache/b']);
    expect(tree['opt/suid']).toMatchObject({ mode: '4755', mtime: '1600000024123456789' });
    expect(tree['home/user/notes']).toMatchObject({ uid: 1000, xattrs: { 'user.tag': Buffer.from('blue').toString('hex') } });
    expect(tree).toEqual(await mergedTree(store, img));
  });

  it('skopeo inspects our save output and sees the same config digest', async () => {
    const { img, archive } = await ours();
    const { stdout } = await skopeo('inspect', '--raw', `oci-archive:${archive}:rich:1`);
    expect(JSON.parse(stdout).config.digest).toBe(img.id);
  });
});

describe('podman', () => {
  it.each(['oci-archive', 'docker-archive'] as const)('loads our %s and runs our hello-world', async (format) => {
    const store = await Store.open(fresh('store'));
    const img = await loadBuiltin(store, 'hello-world');
    const archive = fresh('hello') + '.tar';
    await saveImages(store, ['hello-world'], archive, format);
    const { stdout } = await podman('load', '-i', archive);
    expect(stdout).toContain('Loaded image: localhost/hello-world:latest');
    const [info] = JSON.parse((await podman('image', 'inspect', 'localhost/hello-world:latest')).stdout);
    expect(`sha256:${info.Id}`).toBe(img.id);
    const out = await podman(
      'run', '--rm', '--pull=never', '--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', 'localhost/hello-world:latest',
    );
    expect(out.stdout).toBe(HELLO_MESSAGE);
    await podman('rmi', '-f', 'localhost/hello-world:latest');
  });

  it('an image podman saves loads back with the same layers and tree', async () => {
    const { store, img, archive } = await ours();
    await podman('load', '-i', archive);
    const out = fresh('podman') + '.tar';
    await podman('save', '--format', 'docker-archive', '-o', out, 'localhost/rich:1');
    const again = await Store.open(fresh('store'));
    const [loaded] = await loadArchive(again, out);
    expect(loaded!.repoTags).toEqual(['localhost/rich:1']);
    expect(loaded!.layers.map((l) => l.diffId)).toEqual([sha(base), sha(change)]);
    expect(await mergedTree(again, loaded!)).toEqual(await mergedTree(store, img));
    await podman('rmi', '-f', 'localhost/rich:1');
  });
});
