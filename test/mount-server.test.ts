/**
 * One mount server, many mounts, with real mounts: each row gets a server of
 * its own (a private LAYERFS_MOUNTD_DIR), so killing one touches no other
 * test's mounts. Who serves a mount is read from the servers' ledgers
 * (owned-NS-PID files), and stat(1) runs in a child with a timeout, so a hung
 * mount fails the row instead of the run.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMounted, LAYERFS_BIN, track, unmount, unmountAll } from './helpers/mounts.js';
import { requestMount } from '../src/mount-client.js';
import { mountdPaths, type MountdPaths } from '../src/mountd-paths.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'layerfs-mountd-'));
const servers = new Set<number>();
afterEach(async () => {
  await unmountAll();
  for (const pid of servers) if (alive(pid)) process.kill(pid, 'SIGTERM');
  servers.clear();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A private server directory and `count` overlays, each with its own upper and mount point. */
function fixture(count: number) {
  const d = join(root, String(n++));
  const dir = join(d, 'mountd');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(join(d, 'lower'));
  writeFileSync(join(d, 'lower/file'), 'lower\n');
  const mounts = Array.from({ length: count }, (_, i) => {
    for (const sub of ['u', 'w', 'm']) mkdirSync(join(d, `${sub}${i}`));
    const m = { lowerdirs: [join(d, 'lower')], upperdir: join(d, `u${i}`), workdir: join(d, `w${i}`), mountpoint: join(d, `m${i}`) };
    track(m.mountpoint);
    return m;
  });
  return { d, paths: mountdPaths(dir), mounts, env: { ...process.env, LAYERFS_MOUNTD_DIR: dir, LAYERFS_MOUNTD_IDLE_MS: '500' } };
}

type Fixture = ReturnType<typeof fixture>;
const opts = (m: Fixture['mounts'][number]) => `lowerdir=${m.lowerdirs[0]},upperdir=${m.upperdir},workdir=${m.workdir}`;

async function cliMount(f: Fixture, i: number, extra = ''): Promise<void> {
  await run(process.execPath, [LAYERFS_BIN, 'mount', '-o', opts(f.mounts[i]!) + extra, f.mounts[i]!.mountpoint], { env: f.env });
}

/** The pid whose ledger lists `mountpoint`, if a server serves it. */
function servedBy(paths: MountdPaths, mountpoint: string): number | undefined {
  for (const name of readdirSync(paths.dir)) {
    const pid = /^owned-[0-9a-f]+-(\d+)$/.exec(name)?.[1];
    if (pid && readFileSync(join(paths.dir, name), 'utf8').split('\n').includes(mountpoint)) {
      servers.add(Number(pid));
      return Number(pid);
    }
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** stat(1) in a child with a deadline: its error text, '' when it worked, 'hung' when it did not return. */
function statOf(path: string): string {
  const r = spawnSync('stat', [path], { timeout: 2000, encoding: 'utf8' });
  if (r.error) return 'hung';
  return r.status === 0 ? '' : r.stderr;
}

async function until(ok: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) if (ok()) return true;
  return ok();
}

describe('one mount server', () => {
  it('serves two mounts from one process, and an outside umount ends only one', async () => {
    const f = fixture(2);
    await cliMount(f, 0);
    await cliMount(f, 1);
    const [a, b] = f.mounts.map((m) => m.mountpoint) as [string, string];
    const pid = servedBy(f.paths, a);
    expect(pid).toBeDefined();
    expect(servedBy(f.paths, b)).toBe(pid);
    await run('umount', [a]);
    expect(await until(() => servedBy(f.paths, a) === undefined)).toBe(true);
    expect(isMounted(a)).toBe(false);
    expect(alive(pid!)).toBe(true);
    expect(readFileSync(join(b, 'file'), 'utf8')).toBe('lower\n');
  });

  it('a lifeline that closes unmounts its own mount only, and hears nothing else', async () => {
    const f = fixture(2);
    const held = await requestMount({ ...f.mounts[0]!, lifeline: true }, f.paths);
    const plain = await requestMount(f.mounts[1]!, f.paths);
    expect(plain.pid).toBe(held.pid);
    servers.add(held.pid);
    held.release();
    expect(await until(() => !isMounted(f.mounts[0]!.mountpoint))).toBe(true);
    expect(isMounted(f.mounts[1]!.mountpoint)).toBe(true);
    expect(statOf(f.mounts[1]!.mountpoint)).toBe('');
  });

  it("a lifeline hears 'unmounted' when its mount is unmounted by anyone", async () => {
    const f = fixture(1);
    const held = await requestMount({ ...f.mounts[0]!, lifeline: true }, f.paths);
    servers.add(held.pid);
    await run('umount', [f.mounts[0]!.mountpoint]);
    expect(await held.ended).toBe('unmounted');
  });

  it('a server killed with SIGKILL leaves ENOTCONN, not a hang; clients hear it lost; the next server detaches the dead mounts', async () => {
    const f = fixture(3);
    const held = await Promise.all(f.mounts.map((m) => requestMount({ ...m, lifeline: true }, f.paths)));
    const pid = held[0]!.pid;
    expect(held.map((h) => h.pid)).toEqual([pid, pid, pid]);
    process.kill(pid, 'SIGKILL');
    expect(await Promise.all(held.map((h) => h.ended))).toEqual(['lost', 'lost', 'lost']);
    for (const m of f.mounts) {
      const started = Date.now();
      expect(statOf(m.mountpoint)).toMatch(/Transport endpoint is not connected/);
      expect(Date.now() - started).toBeLessThan(1000);
    }
    // The next server cleans up after the dead one; a mount point mounted again meanwhile stays.
    mkdirSync(join(f.d, 'u3'));
    mkdirSync(join(f.d, 'w3'));
    await cliMount({ ...f, mounts: [{ ...f.mounts[0]!, upperdir: join(f.d, 'u3'), workdir: join(f.d, 'w3'), mountpoint: join(f.d, 'm0') }] }, 0);
    servedBy(f.paths, join(f.d, 'm0'));
    expect(statOf(join(f.d, 'm0'))).toBe('');
    expect(isMounted(f.mounts[1]!.mountpoint)).toBe(false);
    expect(isMounted(f.mounts[2]!.mountpoint)).toBe(false);
  });

  it("leaves its caller's cgroup for layerfs/mountd, where systemd stopping the caller's unit cannot reach it", async () => {
    const f = fixture(1);
    await cliMount(f, 0);
    const pid = servedBy(f.paths, f.mounts[0]!.mountpoint)!;
    const tracked = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter((l) => l.startsWith('0::') || l.includes(':name=systemd:'));
    expect(tracked.length).toBeGreaterThan(0);
    for (const l of tracked) expect(l).toMatch(/:\/layerfs\/mountd$/);
  });

  it('four first mounts at once end with one server', async () => {
    const f = fixture(4);
    await Promise.all(f.mounts.map((_, i) => cliMount(f, i)));
    const pids = new Set(f.mounts.map((m) => servedBy(f.paths, m.mountpoint)));
    expect(pids.size).toBe(1);
    expect([...pids][0]).toBeDefined();
    for (const m of f.mounts) expect(readFileSync(join(m.mountpoint, 'file'), 'utf8')).toBe('lower\n');
  });

  it('SIGTERM unmounts every mount, then the server leaves', async () => {
    const f = fixture(2);
    await cliMount(f, 0);
    await cliMount(f, 1);
    const pid = servedBy(f.paths, f.mounts[0]!.mountpoint)!;
    process.kill(pid, 'SIGTERM');
    expect(await until(() => !alive(pid))).toBe(true);
    for (const m of f.mounts) expect(isMounted(m.mountpoint)).toBe(false);
  });

  it('a mount\'s messages go to its --log file, a failure\'s reason first of all', async () => {
    const f = fixture(1);
    const log = join(f.d, 'mount.log');
    const bad = { ...f.mounts[0]!, lowerdirs: [join(f.d, 'nope')], logFile: log };
    await expect(requestMount(bad, f.paths)).rejects.toMatchObject({ code: 'MOUNT_FAILED' });
    expect(readFileSync(log, 'utf8')).toMatch(/^layerfs: .*nope/);
  });

  it('leaves once its last mount has ended (LAYERFS_MOUNTD_IDLE_MS)', async () => {
    const f = fixture(1);
    await cliMount(f, 0);
    const pid = servedBy(f.paths, f.mounts[0]!.mountpoint)!;
    await unmount(f.mounts[0]!.mountpoint);
    expect(await until(() => !alive(pid))).toBe(true);
    expect(existsSync(f.paths.socket)).toBe(false);
  });

  it('a mount that fails answers MOUNT_FAILED with its reason, and the others keep being served', async () => {
    const f = fixture(2);
    await cliMount(f, 0);
    const bad = { ...f.mounts[1]!, upperdir: f.mounts[0]!.upperdir, workdir: f.mounts[0]!.workdir };
    await expect(requestMount(bad, f.paths)).rejects.toMatchObject({ code: 'MOUNT_FAILED', message: expect.stringMatching(/in use by another mount/) });
    expect(isMounted(f.mounts[1]!.mountpoint)).toBe(false);
    expect(readFileSync(join(f.mounts[0]!.mountpoint, 'file'), 'utf8')).toBe('lower\n');
  });

  it('without a private directory for the socket, a mount gets a daemon of its own', async () => {
    const f = fixture(1);
    chmodSync(f.paths.dir, 0o755);
    await cliMount(f, 0);
    expect(servedBy(f.paths, f.mounts[0]!.mountpoint)).toBeUndefined();
    expect((await run('pgrep', ['-f', `mount -f -o .*${f.mounts[0]!.mountpoint}`])).stdout.trim()).toMatch(/^\d+$/);
  });

  it('-o daemon=own serves the mount from a process of its own', async () => {
    const f = fixture(1);
    await cliMount(f, 0, ',daemon=own');
    expect(servedBy(f.paths, f.mounts[0]!.mountpoint)).toBeUndefined();
    const own = (await run('pgrep', ['-f', `mount -f -o .*${f.mounts[0]!.mountpoint}`])).stdout.trim();
    expect(own).toMatch(/^\d+$/);
    expect(readFileSync(join(f.mounts[0]!.mountpoint, 'file'), 'utf8')).toBe('lower\n');
  });
});
