/**
 * Interop: buildah (with layerfs as its mount_program, in a throwaway
 * storage root) and `layerfs build` build the same Dockerfile on the same
 * busybox image; both images, mounted, hold the same tree. Left out: what
 * each runtime adds for itself (buildah's mount points and its empty
 * /etc/hosts, /etc/hostname and /etc/resolv.conf, REFERENCE.md) and times.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { saveImages } from '../../src/store/save.js';
import { mounters } from '../../src/runtime/rootfs.js';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { addBusybox, CHANGES, tempRoot, type TempRoot } from '../runtime/helpers/busybox.js';
import { buildCaptured, writeContext } from './helpers.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'layerfs-buildah-'));
const buildah = (...args: string[]) =>
  run('buildah', [
    '--root', join(tmp, 'graph'), '--runroot', join(tmp, 'run'),
    '--storage-driver', 'overlay', '--storage-opt', `overlay.mount_program=${LAYERFS_BIN}`, ...args,
  ], { maxBuffer: 16 << 20 });
let t: TempRoot | undefined;

afterAll(async () => {
  await buildah('umount', '-a').catch(() => {});
  await buildah('rm', '-a').catch(() => {});
  await buildah('rmi', '-af').catch(() => {});
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(tmp))) {
    await run('umount', ['-l', line.split(' ')[1]!]).catch(() => {});
  }
  rmSync(tmp, { recursive: true, force: true });
  if (t) expect(await t.cleanup()).toEqual([]);
});

const RUNTIME_OWN = /^(dev|proc|sys|run|etc\/hosts|etc\/hostname|etc\/resolv\.conf)$/;

/** path → type, mode, owner, size and content digest (or link target) of everything under `root`. */
function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (RUNTIME_OWN.test(r)) continue;
      const p = join(root, r);
      const st = lstatSync(p);
      const what = st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l ${readlinkSync(p)}` : st.isFile() ? `f ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 12)}` : 'o';
      out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

it('buildah with layerfs as mount_program builds the same tree from the same Dockerfile', async () => {
  t = await tempRoot();
  await addBusybox(t.store);
  const ctx = writeContext({
    Dockerfile: [
      'FROM busybox:test',
      'ENV APP=/app',
      'COPY app.conf $APP/',
      'COPY --chown=1000:1000 data/ $APP/data/',
      'COPY --chmod=700 tool.sh /usr/local/bin/',
      `RUN ${CHANGES}`,
      'WORKDIR /app',
      'WORKDIR /work/space',
    ].join('\n'),
    'app.conf': 'conf\n', 'data/x': 'x\n', 'data/sub/y': 'y\n', 'tool.sh': '#!/bin/sh\necho tool\n',
  }, join(tmp, 'ctx'));

  const ours = await buildCaptured(t.root, { context: ctx, tags: ['built:ours'] });
  const archive = join(tmp, 'busybox.tar');
  await saveImages(t.store, ['busybox:test'], archive);
  await buildah('pull', `docker-archive:${archive}`);
  await buildah('bud', '--isolation', 'chroot', '--network', 'host', '--pull=never', '-t', 'built:buildah', ctx);

  const ctr = (await buildah('from', '--pull-never', 'localhost/built:buildah')).stdout.trim();
  const theirs = (await buildah('mount', ctr)).stdout.trim();
  const merged = join(tmp, 'ours');
  const img = await t.store.resolve(ours.id);
  await run('mkdir', ['-p', merged]);
  const mount = await mounters.layerfs.mount({ lowerdirs: t.store.layerDirs(img), merged });
  try {
    const mine = listTree(merged);
    expect(mine).toContain('usr/local/bin/tool.sh 700 0:0 f 20 ' + createHash('sha256').update('#!/bin/sh\necho tool\n').digest('hex').slice(0, 12));
    expect(mine).toContain('app/data/sub/y 644 1000:1000 f 2 ' + createHash('sha256').update('y\n').digest('hex').slice(0, 12));
    expect(mine).toEqual(listTree(theirs));
  } finally {
    await mount.unmount();
    await buildah('umount', ctr);
  }
}, 60_000);
