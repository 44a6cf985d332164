/**
 * layerfs as podman's mount_program: podman (installed by scripts/setup.sh)
 * calls our binary with its own argv to mount every container's rootfs, runs
 * our hello-world on it, and unmounts; nothing stays mounted.
 */
import { afterAll, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { HELLO_MESSAGE } from '../../src/store/hello-world.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'layerfs-podman-'));
const podman = (...args: string[]) =>
  run('podman', [
    '--root', join(tmp, 'graph'), '--runroot', join(tmp, 'run'),
    '--storage-driver', 'overlay', '--storage-opt', `overlay.mount_program=${LAYERFS_BIN}`,
    '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', 'runc', ...args,
  ]);
const ours = () => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(tmp) && l.includes('fuse.layerfs'));

afterAll(async () => {
  await podman('rm', '-af').catch(() => {});
  for (const line of ours()) await run('umount', ['-l', line.split(' ')[1]!]).catch(() => {});
  await podman('system', 'reset', '-f').catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

it('podman runs hello-world on a layerfs mount, mounts and unmounts containers through it', async () => {
  const store = join(tmp, 'store');
  const archive = join(tmp, 'hello.tar');
  await run(process.execPath, [LAYERFS_BIN, 'load', '--root', store, '--builtin', 'hello-world']);
  await run(process.execPath, [LAYERFS_BIN, 'save', '--root', store, '-o', archive, 'hello-world']);
  await podman('load', '-i', archive);

  const info = (await podman('info', '--format', '{{json .Store.GraphOptions}}')).stdout;
  expect(info).toContain('"Version":"0.1.0"'); // podman ran `layerfs --version`

  const out = await podman('run', '--rm', '--pull=never', '--network', 'none', '--ulimit', 'nofile=20000:20000',
    '--ulimit', 'nproc=32768:32768', 'localhost/hello-world:latest');
  expect(out.stdout).toBe(HELLO_MESSAGE);
  expect(ours()).toEqual([]);

  const id = (await podman('create', '--pull=never', '--network', 'none', 'localhost/hello-world:latest')).stdout.trim();
  const merged = (await podman('mount', id)).stdout.trim();
  expect(ours().map((l) => l.split(' ')[1])).toEqual([merged]);
  writeFileSync(join(merged, 'written-through-layerfs'), 'yes\n');
  expect(readFileSync(join(merged, '..', 'diff', 'written-through-layerfs'), 'utf8')).toBe('yes\n');
  await podman('umount', id);
  expect(ours()).toEqual([]);
  await podman('rm', id);
});
