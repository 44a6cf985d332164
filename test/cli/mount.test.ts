/**
 * The mount command line, end to end with real mounts: our own form, podman's
 * mount_program argv, mount(8) via mount.fuse3, failures and signals.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMounted, LAYERFS_BIN, track, unmountAll } from '../helpers/mounts.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'layerfs-cli-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function fixture() {
  const d = join(root, String(n++));
  for (const sub of ['l1', 'l2', 'u', 'w', 'm']) mkdirSync(join(d, sub), { recursive: true });
  writeFileSync(join(d, 'l1/top.txt'), 'top\n');
  writeFileSync(join(d, 'l2/bottom.txt'), 'bottom\n');
  writeFileSync(join(d, 'l2/top.txt'), 'hidden\n');
  return { d, l1: join(d, 'l1'), l2: join(d, 'l2'), u: join(d, 'u'), w: join(d, 'w'), m: join(d, 'm') };
}

async function layerfs(args: string[]) {
  try {
    const r = await run(process.execPath, [LAYERFS_BIN, ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('layerfs mount', () => {
  it('mounts two layers under an upper, returns once ready, and unmounts', async () => {
    const f = fixture();
    track(f.m);
    const r = await layerfs(['mount', '-o', `lowerdir=${f.l1}:${f.l2},upperdir=${f.u},workdir=${f.w}`, f.m]);
    expect(r.code).toBe(0);
    expect(isMounted(f.m)).toBe(true);
    expect(readFileSync(join(f.m, 'top.txt'), 'utf8')).toBe('top\n');
    expect(readFileSync(join(f.m, 'bottom.txt'), 'utf8')).toBe('bottom\n');
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(new RegExp(`${f.m} fuse\\.layerfs `));
    expect((await layerfs(['umount', f.m])).code).toBe(0);
    expect(isMounted(f.m)).toBe(false);
  });

  it("accepts podman's mount_program argv (no subcommand, empty option, volatile)", async () => {
    const f = fixture();
    track(f.m);
    const r = await layerfs(['-o', `lowerdir=${f.l1}:${f.l2},upperdir=${f.u},workdir=${f.w},,volatile`, f.m]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    writeFileSync(join(f.m, 'new.txt'), 'new\n');
    expect(readFileSync(join(f.u, 'new.txt'), 'utf8')).toBe('new\n');
  });

  it("accepts podman's read-only image mount (lowerdir=A:B, no upperdir)", async () => {
    const f = fixture();
    track(f.m);
    expect((await layerfs(['-o', `lowerdir=${f.l1}:${f.l2}`, f.m])).code).toBe(0);
    expect(() => writeFileSync(join(f.m, 'x'), 'x')).toThrow(/EROFS/);
  });

  it('works as mount -t fuse.layerfs (mount.fuse3 runs `layerfs SOURCE MNT -o OPTS`)', async () => {
    const f = fixture();
    track(f.m);
    await run('mount', ['-t', 'fuse.layerfs', 'myimage', f.m, '-o', `lowerdir=${f.l1}:${f.l2},upperdir=${f.u},workdir=${f.w}`]);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(new RegExp(`^myimage ${f.m} fuse\\.layerfs `, 'm'));
    expect(readFileSync(join(f.m, 'top.txt'), 'utf8')).toBe('top\n');
    await run('umount', [f.m]);
    expect(isMounted(f.m)).toBe(false);
  });

  it('mounts from an fstab line (mount -T FSTAB MNT)', async () => {
    const f = fixture();
    track(f.m);
    const fstab = join(f.d, 'fstab');
    writeFileSync(fstab, `myimage ${f.m} fuse.layerfs lowerdir=${f.l1}:${f.l2},upperdir=${f.u},workdir=${f.w},noauto 0 0\n`);
    await run('mount', ['-T', fstab, f.m]);
    expect(readFileSync(join(f.m, 'bottom.txt'), 'utf8')).toBe('bottom\n');
  });

  it('warns about an unknown option and mounts anyway', async () => {
    const f = fixture();
    track(f.m);
    const r = await layerfs(['mount', '-o', `lowerdir=${f.l1},frobnicate`, f.m]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("unknown mount option 'frobnicate' ignored");
  });

  const failures = [
    { name: 'a missing lower dir', opts: (f: ReturnType<typeof fixture>) => `lowerdir=${f.d}/nope`, error: /nope/ },
    { name: 'upperdir without workdir', opts: (f: ReturnType<typeof fixture>) => `lowerdir=${f.l1},upperdir=${f.u}`, error: /go together/ },
    { name: 'no lowerdir', opts: () => 'upperdir=/x,workdir=/y', error: /lowerdir= is required/ },
  ];
  it.each(failures)('fails with a reason and a non-zero exit: $name', async ({ opts, error }) => {
    const f = fixture();
    const r = await layerfs(['mount', '-o', opts(f), f.m]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(error);
    expect(isMounted(f.m)).toBe(false);
  });

  it('fails when the mount point does not exist', async () => {
    const f = fixture();
    const r = await layerfs(['mount', '-o', `lowerdir=${f.l1}`, join(f.d, 'missing')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(join(f.d, 'missing'));
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('-f serves in the foreground and %s unmounts cleanly', async (signal) => {
    const f = fixture();
    track(f.m);
    const child = spawn(process.execPath, [LAYERFS_BIN, 'mount', '-f', '-o', `lowerdir=${f.l1},upperdir=${f.u},workdir=${f.w}`, f.m], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 100 && !isMounted(f.m); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isMounted(f.m)).toBe(true);
    expect(existsSync(join(f.m, 'top.txt'))).toBe(true);
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(isMounted(f.m)).toBe(false);
  });

  it('with daemon=own, the mount\'s own daemon exits when unmounted from outside', async () => {
    const f = fixture();
    track(f.m);
    await layerfs(['mount', '-o', `lowerdir=${f.l1},daemon=own`, f.m]);
    const pids = async () => (await run('pgrep', ['-f', `mount -f -o lowerdir=${f.l1}`]).catch(() => ({ stdout: '' }))).stdout.trim();
    expect(await pids()).not.toBe('');
    await run('umount', [f.m]);
    for (let i = 0; i < 100 && (await pids()) !== ''; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await pids()).toBe('');
  });

  it('mounts an image from the store: read-only, or --writable with a scratch upper removed on unmount', async () => {
    const f = fixture();
    track(f.m);
    const store = ['--root', join(f.d, 'store')];
    expect((await layerfs(['load', '--builtin', 'hello-world', ...store])).code).toBe(0);
    expect((await layerfs(['mount', ...store, 'hello-world', f.m])).code).toBe(0);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(new RegExp(`^hello-world ${f.m} fuse\\.layerfs ro,`, 'm'));
    expect(() => writeFileSync(join(f.m, 'x'), 'x')).toThrow(/EROFS/);
    await layerfs(['umount', f.m]);

    expect((await layerfs(['mount', ...store, '--writable', 'hello-world', f.m])).code).toBe(0);
    writeFileSync(join(f.m, 'x'), 'x');
    expect(existsSync(join(f.m, 'hello'))).toBe(true);
    await layerfs(['umount', f.m]);
    for (let i = 0; i < 50 && existsSync(join(f.d, 'store/mounts')) && readdirSync(join(f.d, 'store/mounts')).length; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(readdirSync(join(f.d, 'store/mounts'))).toEqual([]);
  });

  it('prints its version (podman info calls --version)', async () => {
    const r = await layerfs(['--version']);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
