/**
 * A real program on the layerfs FUSE rootfs: apt in a Debian bookworm minbase
 * container. `apt-get update` opens, unlinks and then fstats its files (the
 * old engine failed it with "Unable to determine file size for fd ... fstat
 * (2: No such file or directory)"); then a local .deb is installed with
 * `apt-get install` and the program it brings runs.
 *
 * Needs root, debootstrap and the Debian archive (deb.debian.org). The minbase
 * tar and the .deb are cached under CACHE, built atomically (tmp + rename), so
 * only the first run pays for debootstrap. The built CLI is used: `npm run build` first.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../src/runtime/containers.js';
import { mountsUnder, processesMentioning, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';

const exec = promisify(execFile);

const CACHE = '/var/cache/layerfs-test';
const MIRROR = 'http://deb.debian.org/debian'; // the same as bench/unpack-source.ts
const TAR = join(CACHE, 'debian-bookworm-minbase.tar');
const DEBS = join(CACHE, 'debs'); // holds hello_*.deb; bind-mounted read-only at /debs
const IMAGE = 'debian:test';
const MINUTES = 60_000;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** debootstrap once; the tar appears only when complete. */
async function minbaseTar(): Promise<string> {
  if (existsSync(TAR)) return TAR;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'debootstrap-'));
  try {
    const root = join(work, 'root');
    await exec('debootstrap', ['--variant=minbase', 'bookworm', root, MIRROR], { timeout: 15 * MINUTES, maxBuffer: 64 << 20 });
    const tmp = join(work, 'minbase.tar');
    await exec('tar', ['--numeric-owner', '-cf', tmp, '-C', root, '.'], { timeout: 5 * MINUTES, maxBuffer: 64 << 20 });
    renameSync(tmp, TAR);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return TAR;
}

/** `apt-get download hello` on the host once; returns the .deb's file name in DEBS. */
async function helloDeb(): Promise<string> {
  const have = () => (existsSync(DEBS) ? readdirSync(DEBS).find((f) => /^hello_.*\.deb$/.test(f)) : undefined);
  const cached = have();
  if (cached) return cached;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'debs-'));
  try {
    const download = () => exec('apt-get', ['download', 'hello'], { cwd: work, timeout: 5 * MINUTES, maxBuffer: 16 << 20 });
    try {
      await download();
    } catch {
      await exec('apt-get', ['update'], { timeout: 5 * MINUTES, maxBuffer: 16 << 20 });
      await download();
    }
    chmodSync(work, 0o755); // readable by the container's _apt user
    renameSync(work, DEBS);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return have()!;
}

let t: TempRoot | undefined;
let deb = '';

beforeAll(async () => {
  const started = Date.now();
  const tar = await minbaseTar();
  deb = await helloDeb();
  t = await tempRoot();
  await exec('layerfs', ['--root', t.root, 'import', tar, IMAGE], { timeout: 5 * MINUTES, maxBuffer: 16 << 20 });
  console.log(`debian-apt: image ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 20 * MINUTES);

afterAll(async () => {
  if (!t) return;
  const root = t.root;
  let left: string[] = [];
  try {
    expect(await listContainers(root)).toEqual([]);
  } finally {
    left = await t.cleanup();
  }
  expect(left).toEqual([]);
  expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(root);
  expect(processesMentioning(root)).toEqual([]);
}, 2 * MINUTES);

describe('apt in a Debian bookworm container on the layerfs FUSE rootfs', () => {
  it('apt-get update, apt-get install of a local .deb, and the installed program runs', async () => {
    const started = Date.now();
    // Empty lists first (as in Docker's debian images), so update downloads and
    // decompresses the Packages index too. The install sees no sources, so apt
    // takes the bind-mounted file rather than the archive's identical copy.
    const script = [
      'rm -rf /var/lib/apt/lists/*',
      'apt-get update; echo "@update=$?"',
      'mkdir -p /tmp/nosrc && : > /tmp/nosrc/empty.list',
      `apt-get install -y -o Dir::Etc::SourceList=/tmp/nosrc/empty.list -o Dir::Etc::SourceParts=/tmp/nosrc /debs/${deb}; echo "@install=$?"`,
      'dpkg-query -W -f \'@status=${Status}\\n\' hello',
      'hello; echo "@hello=$?"',
    ].join('\n');
    const r = await runCaptured(t!.root, {
      image: IMAGE, mounter: 'layerfs', remove: true, network: 'host',
      volumes: [`${DEBS}:/debs:ro`],
      env: [PATH_ENV, 'DEBIAN_FRONTEND=noninteractive'],
      command: ['sh', '-c', script],
    });
    console.log(`debian-apt: container ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const why = `stdout:\n${r.out}\nstderr:\n${r.err}\nlogs:\n${r.logs.join('\n')}`;
    expect(r.out, why).toMatch(/bookworm\/main amd64 Packages/);
    expect(r.out, why).toContain('@update=0');
    expect(r.out, why).toContain(`Get:1 /debs/${deb} hello`);
    expect(r.err, why).not.toMatch(/Unable to determine file size|fstat|^W: |^E: /m);
    expect(r.out, why).toContain('@install=0');
    expect(r.out, why).toContain('@status=install ok installed');
    expect(r.out, why).toContain('Hello, world!\n@hello=0');
    expect(r.exitCode, why).toBe(0);
    expect(mountsUnder(t!.root)).toEqual([]);
    expect(await listContainers(t!.root)).toEqual([]);
  }, 10 * MINUTES);
});
