/**
 * Names as Docker and podman resolve them (bare names under
 * docker.io/library/, podman's localhost/ for short names, an ambiguous
 * short name is an error listing the matches), `rmi` of an ID tagged in
 * several repositories (Docker's conflict), and the name an OCI layout's
 * `org.opencontainers.image.ref.name` gives, checked against podman load of
 * the same skopeo-made layout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { Store } from '../../src/store/store.js';
import { loadArchive } from '../../src/store/load.js';
import { saveImages } from '../../src/store/save.js';
import { matchTag } from '../../src/oci/reference.js';
import { shortId } from '../../src/oci/digest.js';
import { storeState, tarOf } from './fixtures.js';

const run = promisify(execFile);
// lowercase: podman names a layout directory after its path, and refuses a path that is no valid reference
const tmp = join(tmpdir(), `layerfs-names-${process.pid}`);
mkdirSync(tmp);
const PODMAN_ROOT = join(tmp, 'podman');
afterAll(async () => {
  await run('podman', ['--root', join(PODMAN_ROOT, 'graph'), '--runroot', join(PODMAN_ROOT, 'run'), '--storage-driver', 'vfs', 'rmi', '-a', '-f']).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});
let n = 0;
const fresh = (what: string) => join(tmp, `${what}-${n++}`);

/** A store with one image per distinct content, tagged as given. */
async function storeWith(tagsById: string[][]): Promise<{ store: Store; ids: string[] }> {
  const store = await Store.open(fresh('store'));
  const ids: string[] = [];
  for (const [i, tags] of tagsById.entries()) {
    const img = await store.addImage({
      config: { architecture: 'amd64', os: 'linux', created: `2020-01-0${i + 1}T00:00:00Z`, rootfs: { type: 'layers', diff_ids: [] } },
      layers: [async () => Readable.from([await tarOf([{ name: `f${i}`, content: String(i) }])])],
      tags,
    });
    ids.push(img.id);
  }
  return { store, ids };
}

describe('short names', () => {
  it.each([
    // [stored tags, what the user types, the tag it finds | an error]
    [['localhost/app:v1'], 'app:v1', 'localhost/app:v1'],
    [['busybox:latest'], 'library/busybox', 'busybox:latest'],
    [['busybox:latest'], 'docker.io/library/busybox', 'busybox:latest'],
    [['busybox:latest', 'localhost/busybox:latest'], 'busybox', 'busybox:latest'], // Docker's reading first
    [['quay.io/team/app:v1'], 'app:v1', 'quay.io/team/app:v1'],
    [['localhost/app:v1', 'quay.io/team/app:v1'], 'app:v1', 'localhost/app:v1'], // podman's own names first
    [['quay.io/a/app:v1', 'ghcr.io/b/app:v1'], 'app:v1', /^short name 'app:v1' matches several images: ghcr.io\/b\/app:v1, quay.io\/a\/app:v1; use the full name$/],
    [['localhost/app:v1'], 'quay.io/app:v1', /^no such image: quay.io\/app:v1$/], // a full name is never widened
    [['localhost/app:v1'], 'app:v2', /^no such image: app:v2$/],
  ] as const)('stored %j, asked for %s', async (stored, ask, expected) => {
    const { store } = await storeWith(stored.map((t) => [t]));
    if (typeof expected === 'string') expect((await store.resolve(ask)).repoTags).toEqual([expected]);
    else await expect(store.resolve(ask)).rejects.toThrow(expected);
  });

  it('matchTag on its own: the order of the rules', () => {
    expect(matchTag('app', ['localhost/app:latest', 'x.io/y/app:latest'])).toEqual({ kind: 'found', tags: ['localhost/app:latest'] });
    expect(matchTag('app', ['x.io/y/app:latest', 'z.io/app:latest'])).toEqual({ kind: 'ambiguous', tags: ['x.io/y/app:latest', 'z.io/app:latest'] });
    expect(matchTag('y/app', ['x.io/y/app:latest', 'z.io/app:latest'])).toEqual({ kind: 'found', tags: ['x.io/y/app:latest'] });
  });
});

describe('rmi', () => {
  it('an ID tagged in several repositories is refused without -f, as Docker does; the store is unchanged', async () => {
    const { store, ids } = await storeWith([['one:1', 'two:1']]);
    const before = storeState(store.root);
    await expect(store.rmi(shortId(ids[0]!))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `conflict: unable to delete ${shortId(ids[0]!)} (must be forced) - image is referenced in multiple repositories`,
    });
    expect(storeState(store.root)).toEqual(before);
    expect(await store.rmi(shortId(ids[0]!), { force: true })).toMatchObject({ untagged: ['one:1', 'two:1'], deleted: expect.arrayContaining([ids[0]]) });
  });

  it('an ID with two tags of one repository is refused too (Docker says "multiple repositories" all the same); one tag goes, image and all', async () => {
    const { store, ids } = await storeWith([['app:1', 'app:2'], ['x:1', 'y:1']]);
    await expect(store.rmi(ids[0]!)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await store.rmi('y:1')).toEqual({ untagged: ['y:1'], deleted: [] });
    expect((await store.rmi(ids[1]!)).untagged).toEqual(['x:1']);
    expect((await store.images()).map((i) => i.repoTags)).toEqual([['app:1', 'app:2']]);
  });
});

describe('org.opencontainers.image.ref.name: named as podman load names the same skopeo layout', () => {
  const podman = (...args: string[]) =>
    run('podman', ['--root', join(PODMAN_ROOT, 'graph'), '--runroot', join(PODMAN_ROOT, 'run'), '--storage-driver', 'vfs', ...args]);

  it.each([
    ['an OCI layout directory, bare ref.name', 'oci', 'fx-app'],
    ['an oci-archive, bare ref.name', 'oci-archive', 'fx-app'],
    ['an oci-archive, name:tag ref.name', 'oci-archive', 'fx-app:v3'],
    ['an OCI layout directory, full reference', 'oci', 'quay.io/x/full:v2'],
    ['an oci-archive, full reference', 'oci-archive', 'quay.io/x/full:v2'],
  ])('%s', async (_name, transport, refName) => {
    const { store } = await storeWith([['src:1']]);
    const saved = fresh('saved') + '.tar';
    await saveImages(store, ['src:1'], saved);
    const out = fresh('layout') + (transport === 'oci' ? '' : '.tar');
    await run('skopeo', ['--insecure-policy', 'copy', '-q', `oci-archive:${saved}:src:1`, `${transport}:${out}:${refName}`]);
    const [loaded] = await loadArchive(await Store.open(fresh('store')), out);
    const { stdout } = await podman('load', '-q', '-i', out);
    const theirs = /Loaded image(?:\(s\))?: (.*)/.exec(stdout)![1]!.trim();
    await podman('rmi', '-f', theirs);
    // podman keeps docker.io/ and library/ where we print the familiar form
    if (transport === 'oci' && refName.startsWith('quay.io')) expect(loaded!.repoTags).toEqual([refName]); // a full reference stands (podman uses the directory)
    else expect(loaded!.repoTags).toEqual([/:[\w.-]+$/.test(theirs) ? theirs : `${theirs}:latest`]); // podman prints a layout dir's name without its :latest
  });
});
