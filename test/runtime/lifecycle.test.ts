/**
 * A container's life after `run`: diff (A/C/D from the upper dir), commit
 * (an OCI layer with `.wh.` entries, a new image that runs with exactly those
 * changes), export (the merged tree), ps records, rm (also of a running one),
 * and the store's holds: rmi refuses an image a container uses until rm.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerDir, findContainer, listContainers, pathsOf, type ContainerState } from '../../src/runtime/containers.js';
import { containerChanges } from '../../src/runtime/changes.js';
import { commitContainer, writeChangesTar } from '../../src/runtime/commit.js';
import { exportContainer } from '../../src/runtime/export.js';
import { holdContainerImages } from '../../src/runtime/container-holds.js';
import { removeContainer } from '../../src/runtime/remove.js';
import { runContainer } from '../../src/runtime/run.js';
import { addBusybox, CHANGES, CHANGES_DIFF, mountsUnder, processesMentioning, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';

let t: TempRoot;
let changed: ContainerState;


async function tarNames(stream: Readable | Buffer): Promise<string[]> {
  const extract = tar.extract();
  const names: string[] = [];
  const src = Buffer.isBuffer(stream) ? Readable.from([stream]) : stream;
  src.pipe(extract);
  for await (const entry of extract) {
    names.push(entry.header.name.replace(/\/$/, ''));
    entry.resume();
  }
  return names;
}

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store);
  const r = await runCaptured(t.root, { image: 'busybox:test', name: 'changer', command: ['sh', '-c', CHANGES] });
  expect(r.exitCode, r.err).toBe(0);
  changed = await findContainer(t.root, 'changer');
});

afterAll(async () => {
  expect(await t.cleanup()).toEqual([]);
});

describe('diff', () => {
  it('lists exactly the changes, docker style', () => {
    const lines = containerChanges(pathsOf(t.root, changed.id).upper, changed.layers).map((c) => `${c.kind} ${c.path}`);
    expect(lines).toEqual(CHANGES_DIFF);
  });
});

describe('commit', () => {
  it('writes an OCI layer: .wh. files for deletions, .wh..wh..opq for the opaque dir', async () => {
    const file = join(t.root, 'tmp', 'changes.tar');
    await writeChangesTar(pathsOf(t.root, changed.id).upper, file);
    const names = await tarNames(readFileSync(file));
    expect(names).toEqual(expect.arrayContaining(['etc/.wh.motd', 'lib/data/.wh..wh..opq', 'lib/data/c', 'srv/new', 'srv/notes', 'srv/tool', 'newdir/sub/link']));
    expect(names.filter((n) => n.includes('.wh.'))).toEqual(['etc/.wh.motd', 'lib/data/.wh..wh..opq']);
  });

  it('makes an image whose history names the command, and which runs with exactly those changes', async () => {
    const img = await commitContainer(t.store, changed, 'busybox:changed');
    const config = await t.store.config(img);
    expect(config.history?.at(-1)?.created_by).toBe(`sh -c ${CHANGES}`);
    expect(img.layers.length).toBe(2);
    const r = await runCaptured(t.root, {
      image: 'busybox:changed', remove: true,
      command: ['sh', '-c', 'cat /srv/new /srv/notes; ls /lib/data; test -e /etc/motd || echo motd gone; stat -c %a /srv/tool; readlink /newdir/sub/link'],
    });
    expect(r.exitCode, r.err).toBe(0);
    expect(r.out).toBe('new\nlower notes\nmore\nc\nmotd gone\n755\n../srv/new\n');
    const fresh = await runCaptured(t.root, { image: 'busybox:changed', name: 'fresh', command: ['true'] });
    expect(containerChanges(pathsOf(t.root, fresh.id).upper, (await findContainer(t.root, 'fresh')).layers)).toEqual([]);
  });
});

describe('export', () => {
  it('packs the merged tree: image files, changes and mount points, nothing deleted', async () => {
    const file = join(t.root, 'tmp', 'export.tar');
    await exportContainer(t.root, changed, createWriteStream(file));
    const names = await tarNames(readFileSync(file));
    expect(names).toEqual(expect.arrayContaining(['bin/busybox', 'bin/sh', 'srv/new', 'lib/data/c', 'proc', 'dev', 'sys', 'etc/passwd']));
    for (const gone of ['etc/motd', 'lib/data/a', 'lib/data/b']) expect(names).not.toContain(gone);
    expect(names.some((n) => n.includes('.wh.'))).toBe(false);
    expect(mountsUnder(t.root)).toEqual([]);
  });
});

describe('ps and rm', () => {
  it('records status and exit code; rm removes the directory', async () => {
    const r = await runCaptured(t.root, { image: 'busybox:test', name: 'short', command: ['sh', '-c', 'exit 4'] });
    const c = (await listContainers(t.root)).find((x) => x.name === 'short')!;
    expect(c).toMatchObject({ status: 'exited', exitCode: 4, image: 'busybox:test' });
    await removeContainer(t.root, c);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(r.id);
    await expect(findContainer(t.root, 'short')).rejects.toThrow(/no such container: short/);
  });

  it('export packs a running container; rm refuses it; rm -f kills it (128+9) and leaves no mount or process', async () => {
    let started!: (s: ContainerState) => void;
    const running = new Promise<ContainerState>((r) => (started = r));
    const done = runContainer({ root: t.root, mounter: 'kernel', image: 'busybox:test', name: 'long', command: ['sleep', '60'], onStart: started, log: () => {} });
    const state = await running;
    const live = join(t.root, 'tmp', 'live.tar');
    await exportContainer(t.root, state, createWriteStream(live));
    expect(await tarNames(readFileSync(live))).toEqual(expect.arrayContaining(['bin/busybox', 'etc/hosts', 'proc']));
    await expect(removeContainer(t.root, state)).rejects.toThrow(/container is running: stop the container before removing or force remove/);
    await removeContainer(t.root, state, true);
    const result = await done.catch((err: Error) => err);
    expect(result).toMatchObject({ exitCode: 137 });
    expect(mountsUnder(containerDir(t.root, state.id))).toEqual([]);
    expect(processesMentioning(state.id)).toEqual([]);
  });

  it('a container holds its image: rmi refuses it, rm releases it, --rm leaves no hold', async () => {
    const img = await t.store.resolve('busybox:test');
    await t.store.tag('busybox:test', 'busybox:held');
    const held = await t.store.resolve('busybox:held');
    const r = await runCaptured(t.root, { image: 'busybox:held', name: 'holder', command: ['true'] });
    expect(r.exitCode, r.err).toBe(0);
    expect((await t.store.holds()).find((h) => h.holder === r.id)).toEqual({ holder: r.id, imageId: held.id, description: 'container holder' });
    await runCaptured(t.root, { image: 'busybox:held', remove: true, command: ['true'] });
    expect((await t.store.holds()).filter((h) => h.imageId === held.id).map((h) => h.holder)).toEqual(expect.arrayContaining([r.id]));
    // Untagging one of two tags is allowed; removing the image's last tag is not.
    expect((await t.store.rmi('busybox:held')).untagged).toEqual(['busybox:held']);
    expect(img.id).toBe(held.id);
    // busybox:changed (from commit, above) has one tag and container 'fresh' runs it.
    await expect(t.store.rmi('busybox:changed')).rejects.toMatchObject({ code: 'IMAGE_IN_USE', message: expect.stringContaining('used by container fresh') });
    await removeContainer(t.root, await findContainer(t.root, 'holder'));
    expect((await t.store.holds()).some((h) => h.holder === r.id)).toBe(false);
  });

  it('containers made before holds existed get theirs (rmi runs this first)', async () => {
    const fresh = await findContainer(t.root, 'fresh');
    await t.store.release(fresh.id);
    expect((await t.store.holds()).some((h) => h.holder === fresh.id)).toBe(false);
    await holdContainerImages(t.store);
    expect((await t.store.holds()).find((h) => h.holder === fresh.id)).toMatchObject({ imageId: fresh.imageId, description: 'container fresh' });
  });
});
