/**
 * The round trip of issue 4 §4, on the layerfs FUSE rootfs (`npm run build`
 * first): a container adds, changes and deletes files, replaces a lower dir
 * (opaque) and chmods a lower file; it is committed; the new image shows
 * exactly those changes when run; saved and loaded into podman, it shows
 * the same tree there. podman gets a private root and the flags
 * REFERENCE.md lists for this machine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitContainer } from '../../src/runtime/commit.js';
import { containerChanges } from '../../src/runtime/changes.js';
import { findContainer, pathsOf } from '../../src/runtime/containers.js';
import { saveImages } from '../../src/store/save.js';
import { addBusybox, CHANGES, CHANGES_DIFF, LIST_TREE, mountsUnder, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';

const run = promisify(execFile);
let t: TempRoot;
let podmanRoot: string;

const podman = (...args: string[]) =>
  run('podman', [
    '--root', join(podmanRoot, 'graph'), '--runroot', join(podmanRoot, 'run'), '--storage-driver', 'vfs',
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', 'runc', ...args,
  ], { maxBuffer: 16 << 20 });

async function listTree(image: string): Promise<string[]> {
  const r = await runCaptured(t.root, { image, mounter: 'layerfs', remove: true, command: ['sh', '-c', LIST_TREE] });
  expect(r.exitCode, r.err).toBe(0);
  return r.out.split('\n').filter(Boolean);
}

beforeAll(async () => {
  t = await tempRoot();
  podmanRoot = mkdtempSync(join(tmpdir(), 'layerfs-podman-'));
  await addBusybox(t.store);
});

afterAll(async () => {
  await podman('rmi', '-a', '-f').catch(() => undefined);
  rmSync(podmanRoot, { recursive: true, force: true });
  expect(await t.cleanup()).toEqual([]);
});

describe('round trip: run, commit, run again, save, podman', () => {
  it('shows exactly the changes in the committed image, here and in podman', async () => {
    const r = await runCaptured(t.root, { image: 'busybox:test', mounter: 'layerfs', name: 'rt', command: ['sh', '-c', CHANGES] });
    expect(r.exitCode, r.err).toBe(0);
    const rt = await findContainer(t.root, 'rt');
    const diff = containerChanges(pathsOf(t.root, rt.id).upper, rt.layers).map((c) => `${c.kind} ${c.path}`);
    expect(diff).toEqual(CHANGES_DIFF);
    await commitContainer(t.store, rt, 'busybox:roundtrip');

    const before = await listTree('busybox:test');
    const after = await listTree('busybox:roundtrip');
    const gone = before.filter((l) => !after.includes(l)).map((l) => l.split(' ')[0]);
    const came = after.filter((l) => !before.includes(l));
    expect(gone).toEqual(['etc/motd', 'lib/data/a', 'lib/data/b', 'srv/notes', 'srv/tool']);
    expect(came.map((l) => l.replace(/ [0-9a-f]{32}$/, ''))).toEqual([
      'lib/data/c F 644 0 0 2', 'newdir D 755 0 0', 'newdir/sub D 755 0 0', 'newdir/sub/link L ../srv/new',
      'srv/new F 644 0 0 4', 'srv/notes F 644 0 0 17', 'srv/tool F 755 0 0 20',
    ]);

    const archive = join(t.root, 'roundtrip.tar');
    await saveImages(t.store, ['busybox:roundtrip'], archive, 'oci-archive');
    await podman('load', '-i', archive);
    const inPodman = await podman(
      'run', '--rm', '--pull=never', '--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768',
      'localhost/busybox:roundtrip', 'sh', '-c', LIST_TREE,
    );
    expect(inPodman.stdout.split('\n').filter(Boolean)).toEqual(after);
  });
});
