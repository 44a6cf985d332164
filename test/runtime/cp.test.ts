/**
 * `cp` through the built CLI, as docker cp: into and out of a running
 * container (its live tree) and a stopped one (mounted for the copy), docker's
 * placement rules, owners, and a symlink in the container that must not lead
 * the copy out of it.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addBusybox, layerfsCli, mountsUnder, tempRoot, type TempRoot } from './helpers/busybox.js';
import { findContainer } from '../../src/runtime/containers.js';
import { cgroupDirs } from '../../src/runtime/cgroups.js';

let t: TempRoot;
let host: string;
const layerfs = (...args: string[]) => layerfsCli(t.root, args);

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store, 'busybox:test');
  host = mkdtempSync(join(tmpdir(), 'layerfs-cp-'));
  mkdirSync(join(host, 'tree/sub'), { recursive: true });
  writeFileSync(join(host, 'tree/a'), 'A\n');
  writeFileSync(join(host, 'tree/sub/b'), 'B\n');
  symlinkSync('a', join(host, 'tree/link'));
  chownSync(join(host, 'tree/a'), 1234, 1235);
  // A stopped container whose /srv/out leads to /tmp: inside the container, not the host's.
  expect(await layerfs('run', '--name', 'stopped', '--network', 'none', 'busybox:test', 'sh', '-c', 'ln -s /tmp /srv/out; echo kept > /srv/file')).toMatchObject({ code: 0 });
  expect(await layerfs('run', '-d', '--name', 'live', '--network', 'none', 'busybox:test', 'sleep', '100')).toMatchObject({ code: 0 });
});

afterAll(async () => {
  await layerfs('rm', '-f', 'stopped', 'live', 'vols', 'rofs', 'racing', 'loop');
  rmSync(host, { recursive: true, force: true });
  expect(mountsUnder(t.root)).toEqual([]);
  expect(await t.cleanup()).toEqual([]);
});

const inLive = async (script: string) => (await layerfs('exec', 'live', 'sh', '-c', script)).out;

describe('cp', () => {
  it('a directory into a running container: made at a missing name, inside an existing one, or only its contents with /.', async () => {
    expect(await layerfs('cp', join(host, 'tree'), 'live:/made')).toMatchObject({ code: 0, err: 'Successfully copied 4.61kB to live:/made\n' }); // as docker counts: the tar it would send
    expect(await layerfs('cp', '-q', join(host, 'tree'), 'live:/srv')).toMatchObject({ code: 0, err: '' });
    expect(await layerfs('cp', '-q', `${join(host, 'tree')}/.`, 'live:/tmp')).toMatchObject({ code: 0 });
    expect(await inLive('cat /made/a /made/sub/b /srv/tree/a /tmp/sub/b; readlink /made/link; stat -c "%u:%g" /made/a /made/sub')).toBe('A\nB\nA\nB\na\n0:0\n0:0\n');
    // -a keeps the owners.
    expect(await layerfs('cp', '-a', '-q', join(host, 'tree/a'), 'live:/kept')).toMatchObject({ code: 0 });
    expect(await inLive('stat -c "%u:%g" /kept')).toBe('1234:1235\n');
  });

  it('out of a stopped container: a file into a directory, a symlink as a link, -L what it points to', async () => {
    const out = join(host, 'out');
    mkdirSync(out);
    expect(await layerfs('cp', '-q', 'stopped:/srv/file', out)).toMatchObject({ code: 0 });
    expect(readFileSync(join(out, 'file'), 'utf8')).toBe('kept\n');
    expect(await layerfs('cp', '-q', 'stopped:/srv/out', join(out, 'link'))).toMatchObject({ code: 0 });
    expect(readlinkSync(join(out, 'link'))).toBe('/tmp');
    // Followed inside the container: its /tmp (empty), not the host's.
    expect(await layerfs('cp', '-q', '-L', 'stopped:/srv/out', join(out, 'followed'))).toMatchObject({ code: 0 });
    expect(lstatSync(join(out, 'followed')).isDirectory()).toBe(true);
    expect(existsSync(join(out, 'followed', host.slice('/tmp/'.length)))).toBe(false);
  });

  it('-L into a directory lands under the link\'s name, not its target\'s (docker\'s rebase); CONTAINER:/ gives its contents', async () => {
    const into = join(host, 'into');
    mkdirSync(into);
    expect(await layerfs('cp', '-q', '-L', 'stopped:/srv/out', into)).toMatchObject({ code: 0 });
    expect(lstatSync(join(into, 'out')).isDirectory()).toBe(true);
    expect(await layerfs('cp', '-q', '-L', join(host, 'tree/link'), 'live:/srv/')).toMatchObject({ code: 0 });
    expect(await inLive('cat /srv/link; [ -L /srv/link ] || echo file')).toBe('A\nfile\n');
    const whole = join(host, 'whole');
    mkdirSync(whole);
    expect(await layerfs('cp', '-q', 'stopped:/', whole)).toMatchObject({ code: 0 });
    expect(readFileSync(join(whole, 'srv/file'), 'utf8')).toBe('kept\n');
  });

  it('into a stopped container through its symlink to /tmp: lands in the container\'s /tmp, never the host\'s', async () => {
    const name = `escape-${process.pid}`;
    writeFileSync(join(host, name), 'x\n');
    expect(await layerfs('cp', '-q', join(host, name), 'stopped:/srv/out/')).toMatchObject({ code: 0 });
    expect(existsSync(join('/tmp', name))).toBe(false);
    expect(await layerfs('start', '-a', 'stopped')).toMatchObject({ code: 0 });
    const back = join(host, 'back');
    expect(await layerfs('cp', '-q', `stopped:/tmp/${name}`, back)).toMatchObject({ code: 0 });
    expect(readFileSync(back, 'utf8')).toBe('x\n');
  });

  it('a running container as its processes see it: into its volume and its tmpfs; a read-only volume or rootfs refuses, as docker\'s', async () => {
    const vol = join(host, 'vol');
    const rovol = join(host, 'rovol');
    mkdirSync(vol);
    mkdirSync(rovol);
    writeFileSync(join(host, 'f'), 'f\n');
    expect(await layerfs('run', '-d', '--name', 'vols', '--network', 'none', '-v', `${vol}:/data`, '-v', `${rovol}:/ro:ro`, '--tmpfs', '/scr', 'busybox:test', 'sleep', '100')).toMatchObject({ code: 0 });
    expect(await layerfs('cp', '-q', join(host, 'f'), 'vols:/data/')).toMatchObject({ code: 0 });
    expect(await layerfs('cp', '-q', join(host, 'f'), 'vols:/scr/')).toMatchObject({ code: 0 });
    expect(readFileSync(join(vol, 'f'), 'utf8')).toBe('f\n');
    expect(await layerfs('exec', 'vols', 'cat', '/data/f', '/scr/f')).toMatchObject({ out: 'f\nf\n' });
    expect(await layerfs('cp', '-q', 'vols:/scr/f', join(host, 'from-tmpfs'))).toMatchObject({ code: 0 });
    expect(await layerfs('cp', join(host, 'f'), 'vols:/ro/')).toMatchObject({ code: 1, err: 'layerfs: mounted volume is marked read-only\n' });
    // Stopped: its volume is not mounted for the copy, which would miss it.
    expect(await layerfs('stop', '-t', '1', 'vols')).toMatchObject({ code: 0 });
    expect(await layerfs('cp', join(host, 'f'), 'vols:/data/g')).toMatchObject({ code: 1, err: `layerfs: /data/g is in the volume at /data, mounted only while the container runs: start it, or use ${vol} on the host\n` });
    expect(await layerfs('create', '--name', 'rofs', '--read-only', 'busybox:test')).toMatchObject({ code: 0 });
    expect(await layerfs('cp', join(host, 'f'), 'rofs:/etc/')).toMatchObject({ code: 1, err: 'layerfs: container rootfs is marked read-only\n' });
    await layerfs('rm', '-f', 'vols', 'rofs');
  });

  it('a chain of more links than the kernel follows is ELOOP, never a link left for the host to follow out of the container', async () => {
    const victim = join(host, 'victim');
    writeFileSync(victim, 'host\n');
    writeFileSync(join(host, 'evil'), 'evil\n');
    // /srv/s0 -> s1 -> ... -> s40 -> the host's directory (a name that means nothing inside).
    const chain = `cd /srv && i=0 && while [ $i -lt 40 ]; do ln -s s$((i+1)) s$i; i=$((i+1)); done && ln -s ${host} s40`;
    expect(await layerfs('run', '--name', 'loop', '--network', 'none', 'busybox:test', 'sh', '-c', chain)).toMatchObject({ code: 0 });
    const r = await layerfs('cp', join(host, 'evil'), 'loop:/srv/s0/victim');
    expect(r).toMatchObject({ code: 1, err: 'layerfs: /srv/s40: too many symbolic links encountered\n' });
    expect(readFileSync(victim, 'utf8')).toBe('host\n');
    expect(await layerfs('cp', 'loop:/srv/s0/victim', join(host, 'read'))).toMatchObject({ code: 1 });
    expect(existsSync(join(host, 'read'))).toBe(false);
    await layerfs('rm', 'loop');
  });

  it('a running container is frozen for the copy (nothing in it can swap a checked path for a symlink), thawed after', async () => {
    const many = join(host, 'many-live');
    mkdirSync(many);
    for (let i = 0; i < 2000; i++) writeFileSync(join(many, `f${i}`), `${i}\n`);
    const id = (await findContainer(t.root, 'live')).id;
    const state = cgroupDirs(id).map((d) => join(d, 'freezer.state')).find((f) => existsSync(f)) ?? join(cgroupDirs(id).at(-1)!, 'cgroup.freeze');
    const seen = new Set<string>();
    const copying = layerfs('cp', '-q', many, 'live:/many');
    let done = false;
    void copying.then(() => (done = true));
    while (!done) {
      seen.add(readFileSync(state, 'utf8').trim());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await copying).toMatchObject({ code: 0 });
    expect([...seen].some((s) => s === 'FROZEN' || s === '1')).toBe(true);
    expect(['THAWED', '0']).toContain(readFileSync(state, 'utf8').trim());
    expect(await inLive('ls /many | wc -l')).toBe('2000\n');
  });

  it('a start during a copy into the stopped container waits for it (the two mounts would share its upper dir)', async () => {
    const many = join(host, 'many');
    mkdirSync(many);
    for (let i = 0; i < 2000; i++) writeFileSync(join(many, `f${i}`), `${i}\n`);
    expect(await layerfs('create', '--name', 'racing', '--network', 'none', 'busybox:test', 'sleep', '100')).toMatchObject({ code: 0 });
    const copying = layerfs('cp', '-q', many, 'racing:/many');
    while (!mountsUnder(t.root).some((m) => m.endsWith('/cp'))) await new Promise((r) => setTimeout(r, 20));
    expect(await layerfs('start', 'racing')).toMatchObject({ code: 0, err: '' });
    expect(await copying).toMatchObject({ code: 0 });
    expect(await layerfs('exec', 'racing', 'sh', '-c', 'ls /many | wc -l')).toMatchObject({ out: '2000\n' });
    await layerfs('rm', '-f', 'racing');
  });

  it.each([
    { args: ['live:/a', 'stopped:/b'], err: 'layerfs: copying between containers is not supported\n' },
    { args: ['/tmp/x', '/tmp/y'], err: 'layerfs: must specify at least one container source\n' },
    { args: ['live:/no/such', '/tmp/y'], err: 'layerfs: Could not find the file /no/such\n' },
    { args: ['live:/etc', '/no/such/dir/'], err: 'layerfs: no such directory: /no/such\n' },
  ])('cp $args: an error in one line', async ({ args, err }) => {
    const r = await layerfs('cp', ...args);
    expect(r.code).not.toBe(0);
    expect(r.err).toBe(err);
  });
});
