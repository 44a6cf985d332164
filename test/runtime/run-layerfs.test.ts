/**
 * Containers on layerfs's own FUSE overlay as their root (the daemon is the
 * built CLI, so `npm run build` first): the headline hello-world, writes
 * through FUSE, the daemon dying mid-run, and nothing left behind.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerDir, listContainers, loadState } from '../../src/runtime/containers.js';
import { HELLO_MESSAGE } from '../../src/store/hello-world.js';
import { addBusybox, mountsUnder, processesMentioning, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';

let t: TempRoot;

beforeAll(async () => {
  t = await tempRoot();
});

afterAll(async () => {
  expect(await t.cleanup()).toEqual([]);
});

describe('run on the layerfs FUSE rootfs', () => {
  it('hello-world prints the message on a store where nothing was loaded', async () => {
    expect(await t.store.images()).toEqual([]);
    const r = await runCaptured(t.root, { image: 'hello-world', mounter: 'layerfs', remove: true });
    expect(r.exitCode, r.err).toBe(0);
    expect(r.out).toBe(HELLO_MESSAGE);
    expect(r.err).toBe('');
    expect(await listContainers(t.root)).toEqual([]);
  });

  it('writes land in the container upper dir through FUSE', async () => {
    await addBusybox(t.store);
    const r = await runCaptured(t.root, {
      image: 'busybox:test', mounter: 'layerfs', name: 'writer',
      command: ['sh', '-c', 'echo new > /srv/new && echo more >> /srv/notes && rm /etc/motd && cat /srv/notes /srv/new'],
    });
    expect(r.exitCode, r.err).toBe(0);
    expect(r.out).toBe('lower notes\nmore\nnew\n');
    const upper = join(containerDir(t.root, r.id), 'upper');
    expect(readFileSync(join(upper, 'srv/new'), 'utf8')).toBe('new\n');
    expect(existsSync(join(upper, 'etc/motd'))).toBe(true); // the whiteout
    expect(mountsUnder(t.root)).toEqual([]);
  });

  it('--rm after a failing command leaves no directory, mount or process', async () => {
    const r = await runCaptured(t.root, { image: 'busybox:test', mounter: 'layerfs', remove: true, command: ['sh', '-c', 'sleep 1 & exit 3'] });
    expect(r.exitCode).toBe(3);
    expect(existsSync(containerDir(t.root, r.id))).toBe(false);
    expect(mountsUnder(t.root)).toEqual([]);
    expect(processesMentioning(r.id)).toEqual([]);
  });

  it('the FUSE daemon dying mid-run is reported, the container marked failed, nothing left mounted', async () => {
    let fusePid = 0;
    const r = await runCaptured(t.root, {
      image: 'busybox:test', mounter: 'layerfs', name: 'victim',
      command: ['sh', '-c', 'echo started; sleep 60'],
      onStart: (state) => {
        fusePid = state.fusePid!;
        process.kill(fusePid, 'SIGKILL');
      },
    });
    expect(fusePid).toBeGreaterThan(0);
    expect(r.status).toBe('failed');
    expect(r.exitCode).toBe(125);
    expect(r.logs.join('\n')).toMatch(new RegExp(`rootfs FUSE daemon \\(pid ${fusePid}\\) died`));
    const state = await loadState(t.root, r.id);
    expect(state).toMatchObject({ status: 'failed', exitCode: 125 });
    expect(mountsUnder(t.root)).toEqual([]);
    expect(processesMentioning(r.id)).toEqual([]);
  });

  it('a rootfs that cannot be mounted is a clear error; the container stays created (as docker\'s), nothing mounted', async () => {
    const broken = await tempRoot();
    try {
      const img = await addBusybox(broken.store, 'busybox:broken');
      rmSync(broken.store.layerDir(img.layers[0]!.diffId), { recursive: true });
      await expect(runCaptured(broken.root, { image: 'busybox:broken', mounter: 'layerfs', name: 'nofs', command: ['true'] })).rejects.toThrow(/mounting the rootfs at .*merged: /);
      const [state] = await listContainers(broken.root);
      expect(state).toMatchObject({ name: 'nofs', status: 'created', exitCode: 125 });
      expect(mountsUnder(broken.root)).toEqual([]);
      expect(processesMentioning(state!.id)).toEqual([]);
    } finally {
      await broken.cleanup();
    }
  });
});
