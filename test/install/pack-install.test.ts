/**
 * layerfs as a dependency: `npm pack` this repository, `npm install` the
 * tarball into a fresh project (dependencies from the npm registry, nothing
 * else from here), and mount with the installed `layerfs` on both engines.
 * A second install without optional dependencies (no fuse-native) must still
 * succeed, mount with the default engine, and name the reason when
 * engine=fuse-native is asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL_TIMEOUT = 300_000;

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-pack-'));
const mounts: string[] = [];

/** npm as a stranger to this repository would run it: none of the npm_* variables of whoever started vitest. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$|VITEST|NODE_OPTIONS$)/i.test(k)));

const mounted = (m: string) => readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === m);

function forceUnmount(m: string) {
  for (const cmd of [['fusermount', '-u', '-z', m], ['umount', '-l', m]]) {
    if (!mounted(m)) return;
    try { execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' }); } catch { /* try the next */ }
  }
}

let tarball = '';

async function install(name: string, extra: string[] = []): Promise<string> {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...extra, tarball], { cwd: dir, env, maxBuffer: 64 << 20 });
  return dir;
}

async function layerfs(dir: string, args: string[]) {
  try {
    const r = await run(join(dir, 'node_modules/.bin/layerfs'), args, { cwd: dir, env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let n = 0;
/** Mounts a one-file overlay with the installed layerfs, reads the file, unmounts. */
async function mountAndRead(dir: string, options: string[] = []) {
  const d = join(tmp, `fs${n++}`);
  for (const sub of ['lower', 'upper', 'work', 'mnt']) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, 'lower/hello.txt'), 'hello from the lower layer\n');
  const mnt = join(d, 'mnt');
  mounts.push(mnt);
  const opts = [`lowerdir=${join(d, 'lower')}`, `upperdir=${join(d, 'upper')}`, `workdir=${join(d, 'work')}`, ...options].join(',');
  const r = await layerfs(dir, ['mount', '-o', opts, mnt]);
  if (r.code !== 0) return { ...r, text: undefined };
  expect(mounted(mnt)).toBe(true);
  const text = readFileSync(join(mnt, 'hello.txt'), 'utf8');
  expect(await layerfs(dir, ['umount', mnt])).toMatchObject({ code: 0 });
  expect(mounted(mnt)).toBe(false);
  return { ...r, text };
}

beforeAll(async () => {
  // prepack builds dist/; the tarball holds only what package.json's `files` names.
  await run('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: REPO, env, maxBuffer: 64 << 20 });
  const tgz = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = join(tmp, tgz[0]!);
}, INSTALL_TIMEOUT);

afterAll(() => {
  for (const m of mounts) forceUnmount(m);
  rmSync(tmp, { recursive: true, force: true });
});

describe('npm install of the packed layerfs', () => {
  it('packs dist/, the native sources and the patch, and no tests', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const f of ['package/dist/cli/main.js', 'package/bin/layerfs.js', 'package/native/binding.gyp', 'package/native/engine.c',
      'package/patches/fuse-native+2.2.6.patch', 'package/scripts/build-native.js']) expect(files).toContain(f);
    expect(files.filter((f) => /^package\/(test|src|bench|node_modules|native\/build)\//.test(f))).toEqual([]);
  });

  it('builds the native parts and mounts, with either engine', async () => {
    const dir = await install('consumer');
    const pkg = join(dir, 'node_modules/layerfs');
    for (const f of ['layerfs_sys.node', 'layerfs_engine.node', 'layerfs-init']) expect(existsSync(join(pkg, 'native/build/Release', f))).toBe(true);
    expect(JSON.parse(readFileSync(join(pkg, 'native/build/fuse-native.json'), 'utf8'))).toEqual({ ok: true });

    expect(await mountAndRead(dir)).toMatchObject({ code: 0, text: 'hello from the lower layer\n' });
    expect(await mountAndRead(dir, ['engine=fuse-native'])).toMatchObject({ code: 0, text: 'hello from the lower layer\n' });
  }, INSTALL_TIMEOUT);

  it('without fuse-native (--omit=optional) still installs and mounts; engine=fuse-native names why not', async () => {
    const dir = await install('consumer-no-optional', ['--omit=optional']);
    const status = JSON.parse(readFileSync(join(dir, 'node_modules/layerfs/native/build/fuse-native.json'), 'utf8'));
    expect(status).toMatchObject({ ok: false, reason: expect.stringMatching(/fuse-native is not installed/) });

    expect(await mountAndRead(dir)).toMatchObject({ code: 0, text: 'hello from the lower layer\n' });
    const r = await mountAndRead(dir, ['engine=fuse-native']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/engine=fuse-native is unavailable: fuse-native is not installed/);
  }, INSTALL_TIMEOUT);
});
