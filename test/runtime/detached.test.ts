/**
 * Containers that keep running, through the built CLI (`npm run build`
 * first): run -d under a supervisor, its json-file log, stop/start/rm,
 * kill -9 of the supervisor and of a foreground run (nothing stays mounted),
 * exec, wait, restart policies, and the run flags --entrypoint, --env-file,
 * --tmpfs and --init. Real containers on the busybox image, layerfs FUSE
 * rootfs unless a row says kernel.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { vethName } from '../../src/runtime/network/endpoint.js';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { containerDir, findContainer, loadState, processAlive } from '../../src/runtime/containers.js';
import { addBusybox, busyboxConfig, mountsUnder, processesMentioning, tempRoot, layerfsCli, type CliResult, type TempRoot } from './helpers/busybox.js';

const execFileP = promisify(execFile);
let t: TempRoot;

type Ran = CliResult;
const layerfs = (...args: string[]): Promise<Ran> => layerfsCli(t.root, args);

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until && !(await cond());) await new Promise((r) => setTimeout(r, 50));
  expect(await cond()).toBe(true);
}

/** `run -d` with the given flags; the container's full ID. */
async function detached(...args: string[]): Promise<string> {
  const r = await layerfs('run', '-d', '--network', 'none', ...args);
  expect(r, r.err).toMatchObject({ code: 0 });
  expect(r.out).toMatch(/^[0-9a-f]{64}\n$/);
  return r.out.trim();
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** The page at 127.0.0.1:port, or null when nothing answers. */
const fetchText = (port: number) => new Promise<string | null>((resolve) => {
  const req = get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
    let body = '';
    res.on('data', (d: Buffer) => (body += d));
    res.on('end', () => resolve(body));
  });
  req.on('error', () => resolve(null));
  req.on('timeout', () => req.destroy());
});

const logLines = (id: string) => readFileSync(join(containerDir(t.root, id), 'container-json.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store, 'busybox:test');
  await addBusybox(t.store, 'busybox:usr1', busyboxConfig({ StopSignal: 'SIGUSR1' }));
});

/** Containers a describe block shares between its tests (it removes them in its afterAll). */
const shared = new Set<string>();

// Every test's containers go, whatever happened; the root must then have no mount left.
afterEach(async () => {
  const ids = (await layerfs('ps', '-aq', '--no-trunc')).out.split('\n').filter((id) => id && !shared.has(id));
  if (ids.length) await layerfs('rm', '-f', ...ids);
});

afterAll(async () => {
  expect(await t.cleanup()).toEqual([]);
});

describe('run -d', () => {
  it('logs json-file lines; stop within the timeout; start with the same files; rm leaves nothing', async () => {
    const id = await detached('--name', 'web', 'busybox:test', 'sh', '-c', 'trap "echo bye; exit 0" TERM; echo hello; echo oops >&2; cat /srv/mark 2>/dev/null; echo x > /srv/mark; while true; do sleep 0.1; done');
    await waitFor(() => (existsSync(join(containerDir(t.root, id), 'container-json.log')) && logLines(id).length >= 2));
    const lines = logLines(id);
    expect(lines.slice(0, 2).map((l) => [l.log, l.stream])).toEqual([['hello\n', 'stdout'], ['oops\n', 'stderr']]);
    for (const l of lines) expect(l.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    expect(await layerfs('logs', 'web')).toMatchObject({ out: 'hello\n', err: 'oops\n' });
    expect(await layerfs('logs', '-t', '--tail', '2', 'web')).toMatchObject({ out: expect.stringMatching(/^\d{4}-\S+Z hello\n$/), err: expect.stringMatching(/^\d{4}-\S+Z oops\n$/) });
    expect(await layerfs('logs', '--tail', '1', 'web')).toMatchObject({ out: '', err: 'oops\n' });
    expect((await layerfs('ps')).out).toMatch(/"sh -c trap \\"echo by…"\s+.* ago\s+Up (Less than a second|\d+ seconds?)\s+web\n/);

    const began = Date.now();
    expect(await layerfs('stop', '-t', '5', 'web')).toMatchObject({ code: 0, out: 'web\n' });
    expect(Date.now() - began).toBeLessThan(3000); // the trap answers SIGTERM at once
    expect((await layerfs('ps', '-a')).out).toMatch(/Exited \(0\) (Less than a second|\d+ seconds?) ago\s+web\n/);
    expect(mountsUnder(containerDir(t.root, id))).toEqual([]);

    expect(await layerfs('start', 'web')).toMatchObject({ code: 0, out: 'web\n' });
    await waitFor(() => logLines(id).filter((l) => l.log === 'x\n').length === 1); // /srv/mark from the first run
    expect((await layerfs('logs', 'web')).out).toBe('hello\nbye\nhello\nx\n');
    const state = await findContainer(t.root, 'web');
    expect(await layerfs('rm', 'web')).toMatchObject({ code: 1 });
    expect(await layerfs('rm', '-f', 'web')).toMatchObject({ code: 0 });
    expect(mountsUnder(t.root)).toEqual([]);
    expect(processesMentioning(id)).toEqual([]);
    expect(processAlive(state.runtimePid)).toBe(false);
    expect(existsSync(containerDir(t.root, id))).toBe(false);
  });

  it('start -a prints the new output and exits with the code; restart runs it again; -d --rm removes itself', async () => {
    const id = await detached('--name', 'once', 'busybox:test', 'sh', '-c', 'echo run; exit 3');
    expect((await layerfs('wait', 'once')).out).toBe('3\n');
    expect(await layerfs('start', '-a', 'once')).toMatchObject({ code: 3, out: 'run\n' });
    expect(await layerfs('restart', 'once')).toMatchObject({ code: 0, out: 'once\n' });
    expect((await layerfs('wait', 'once')).out).toBe('3\n');
    expect((await layerfs('logs', 'once')).out).toBe('run\nrun\nrun\n');
    expect(mountsUnder(containerDir(t.root, id))).toEqual([]);

    // Long enough for two CLIs to start on a loaded 2-core machine: a `wait` that comes after the removal finds nothing.
    const gone = await detached('--rm', 'busybox:test', 'sh', '-c', 'sleep 1.5; echo last; exit 5');
    const [waited, followed] = await Promise.all([layerfs('wait', gone), layerfs('logs', '-f', gone)]);
    expect(waited.out).toBe('5\n'); // the record stays until its waiters have read the end
    expect(followed.out).toBe('last\n');
    await waitFor(() => !existsSync(containerDir(t.root, gone)));
    expect(mountsUnder(t.root)).toEqual([]);
  });

  it('-p on the bridge: the host reaches it on 127.0.0.1; stop frees the port, start brings it back; rm leaves no veth or lease', async () => {
    const port = await freePort();
    const www = join(t.root, 'www');
    await execFileP('mkdir', ['-p', www]);
    writeFileSync(join(www, 'index.html'), 'page\n');
    const id = await layerfs('run', '-d', '--init', '-p', `127.0.0.1:${port}:80`, '-v', `${www}:/www:ro`, 'busybox:test', 'httpd', '-f', '-v', '-p', '80', '-h', '/www');
    expect(id.code, id.err).toBe(0);
    const c = id.out.trim();
    await waitFor(async () => (await fetchText(port)) === 'page\n');
    expect((await layerfs('ps')).out).toContain(`127.0.0.1:${port}->80/tcp`);
    await waitFor(async () => /response:200/.test((await layerfs('logs', c)).err));
    expect((await layerfs('stop', c)).code).toBe(0);
    expect(await fetchText(port)).toBeNull();
    expect((await layerfs('start', c)).code).toBe(0);
    await waitFor(async () => (await fetchText(port)) === 'page\n');
    expect((await layerfs('rm', '-f', c)).code).toBe(0);
    expect(await fetchText(port)).toBeNull();
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(vethName(c));
    expect(readFileSync(join(t.root, 'network', 'leases.json'), 'utf8')).not.toContain(c);
    expect(mountsUnder(t.root)).toEqual([]);
  });

  it('stop sends SIGKILL after -t when the command ignores SIGTERM (PID 1 has no handler)', async () => {
    await detached('--name', 'stubborn', 'busybox:test', 'sleep', '100');
    const began = Date.now();
    expect((await layerfs('stop', '-t', '1', 'stubborn')).code).toBe(0);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - began).toBeLessThan(4000);
    expect((await layerfs('wait', 'stubborn')).out).toBe('137\n');
  });

  it("stop sends the image's STOPSIGNAL", async () => {
    const id = await detached('busybox:usr1', 'sh', '-c', 'trap "echo usr1; exit 0" USR1; trap "echo term; exit 1" TERM; echo ready; while true; do sleep 0.1; done');
    await waitFor(async () => (await layerfs('logs', id)).out === 'ready\n');
    expect((await layerfs('stop', id)).code).toBe(0);
    expect(await layerfs('logs', id)).toMatchObject({ out: 'ready\nusr1\n' });
    expect((await layerfs('wait', id)).out).toBe('0\n');
  });

  it('kill -9 of the supervisor: nothing stays mounted or running, the container is exited', async () => {
    const id = await detached('--name', 'orphan', 'busybox:test', 'sleep', '100');
    const state = await loadState(t.root, id);
    expect(mountsUnder(containerDir(t.root, id))).toHaveLength(1);
    process.kill(state.runtimePid!, 'SIGKILL');
    await waitFor(() => mountsUnder(t.root).length === 0 && processesMentioning(id).length === 0);
    expect((await layerfs('ps', '-a', '--filter', 'name=orphan')).out).toMatch(/Exited \(137\) .* ago\s+orphan\n/);
    const [inspected] = JSON.parse((await layerfs('inspect', 'orphan')).out) as Array<{ State: Record<string, unknown> }>;
    expect(inspected!.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 137, Pid: 0 });
  });

  it('kill -9 of a foreground run: its FUSE daemon unmounts and exits (the lifeline)', async () => {
    const child = spawn(process.execPath, [LAYERFS_BIN, 'run', '--name', 'fg', 'busybox:test', 'sh', '-c', 'echo ready; sleep 60'], {
      env: { ...process.env, LAYERFS_ROOT: t.root },
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    const state = await findContainer(t.root, 'fg');
    child.kill('SIGKILL');
    await waitFor(() => mountsUnder(containerDir(t.root, state.id)).length === 0 && processesMentioning(state.id).length === 0);
    // What the network keeps for it (its namespace file) goes when a command reconciles the record.
    expect((await layerfs('ps', '-a')).out).toMatch(/Exited \(137\) .* ago\s+fg\n/);
    expect(mountsUnder(t.root)).toEqual([]);
  });
});

describe('exec', () => {
  const rows: Array<{ flags?: string[]; args: string[]; out: string | RegExp; code: number }> = [
    { args: ['sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "; hostname'], out: /^\d+\nsleep 100 [0-9a-f]{12}\n$/, code: 0 },
    { args: ['cat', '/srv/made-by-pid1'], out: 'here\n', code: 0 },
    { args: ['sh', '-c', 'exit 7'], out: '', code: 7 },
    { args: ['nosuchcmd'], out: '', code: 127 },
    { flags: ['-e', 'A=1', '-w', '/srv', '-u', 'app'], args: ['sh', '-c', 'echo $A $(pwd) $(id -u) $HOME $FROM_IMAGE'], out: '1 /srv 1000 /home/app yes\n', code: 0 },
  ];
  beforeAll(async () => {
    shared.add(await detached('--name', 'host', 'busybox:test', 'sh', '-c', 'echo here > /srv/made-by-pid1; exec sleep 100'));
    await waitFor(async () => (await layerfs('exec', 'host', 'cat', '/srv/made-by-pid1')).code === 0);
  });
  afterAll(async () => {
    await layerfs('rm', '-f', 'host');
    shared.clear();
  });
  it.each(rows)('exec $flags $args → $code', async ({ flags = [], args, out, code }) => {
    const r = await layerfs('exec', ...flags, 'host', ...args);
    expect(r.code, r.err).toBe(code);
    if (typeof out === 'string') expect(r.out).toBe(out);
    else expect(r.out).toMatch(out);
  });

  it('-it: a terminal of the container\'s own devpts, its size from ours, the exit code back (under script, a real pty)', async () => {
    const cmd = `stty rows 30 cols 100; ${process.execPath} ${LAYERFS_BIN} exec -it host sh -c 'tty; stty size; exit 6'`;
    const r = await new Promise<Ran>((resolve) => execFile('script', ['-qe', '-c', cmd, '/dev/null'], { env: { ...process.env, LAYERFS_ROOT: t.root } }, (err, out, errOut) => {
      resolve({ code: (err as { code?: number } | null)?.code ?? 0, out, err: errOut });
    }));
    expect(r.code, r.out).toBe(6);
    expect(r.out).toMatch(/\/dev\/pts\/\d+\r\n30 100\r\n/);
  });

  it("is confined like the container: its capabilities, seccomp mode and cgroup", async () => {
    const r = await layerfs('exec', 'host', 'sh', '-c', 'for p in self 1; do grep -E "^(CapEff|CapBnd|Seccomp):" /proc/$p/status; cat /proc/$p/cgroup | md5sum; done');
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(8);
    expect(lines.slice(0, 4)).toEqual(lines.slice(4));
    expect(lines[0]).not.toBe('CapEff:\t000001ffffffffff'); // not all capabilities
    expect(lines[2]).toBe('Seccomp:\t2');
  });

  it('of a stopped or missing container fails with 1, as docker exec does', async () => {
    expect((await layerfs('run', '--name', 'done', 'busybox:test', 'true')).code).toBe(0);
    expect(await layerfs('exec', 'done', 'true')).toMatchObject({ code: 1, err: expect.stringMatching(/is not running/) });
    expect(await layerfs('exec', 'nosuch', 'true')).toMatchObject({ code: 1, err: 'layerfs: no such container: nosuch\n' });
  });
});

describe('restart policies and wait', () => {
  const rows = [
    { policy: 'no', exit: 3, runs: 1, restarts: 0 },
    { policy: 'on-failure:2', exit: 3, runs: 3, restarts: 2 },
    { policy: 'on-failure', exit: 0, runs: 1, restarts: 0 },
  ];
  it.each(rows)('--restart $policy, exit $exit: $runs run(s)', async ({ policy, exit, runs, restarts }) => {
    const id = await detached('--restart', policy, 'busybox:test', 'sh', '-c', `echo run; exit ${exit}`);
    expect((await layerfs('wait', id)).out).toBe(`${exit}\n`);
    expect((await layerfs('logs', id)).out).toBe('run\n'.repeat(runs));
    const [c] = JSON.parse((await layerfs('inspect', id)).out) as Array<{ RestartCount: number; State: { ExitCode: number } }>;
    expect(c).toMatchObject({ RestartCount: restarts, State: { ExitCode: exit } });
  });

  it('--restart always keeps restarting until stop', async () => {
    const id = await detached('--restart', 'always', 'busybox:test', 'sh', '-c', 'echo run; sleep 0.2');
    await waitFor(() => logLines(id).length >= 3);
    expect((await layerfs('stop', id)).code).toBe(0);
    const [c] = JSON.parse((await layerfs('inspect', id)).out) as Array<{ State: { Status: string } }>;
    expect(c!.State.Status).toBe('exited');
    expect(mountsUnder(t.root)).toEqual([]);
  });
});

describe('run flags', () => {
  const envFile = () => {
    const f = join(t.root, 'env.list');
    writeFileSync(f, '# comment\nA=from file\nB=1\n\n  C=c\n');
    return f;
  };
  const rows: Array<{ name: string; flags: () => string[]; cmd: string[]; out: string }> = [
    { name: '--entrypoint replaces Entrypoint and Cmd', flags: () => ['--entrypoint', 'echo'], cmd: ['a', 'b'], out: 'a b\n' },
    { name: '--env-file, then -e wins', flags: () => ['--env-file', envFile(), '-e', 'B=2'], cmd: ['sh', '-c', 'echo "$A|$B|$C"'], out: 'from file|2|c\n' },
    { name: '--tmpfs with options', flags: () => ['--tmpfs', '/scratch:size=1m,mode=1777'], cmd: ['sh', '-c', 'grep " /scratch " /proc/mounts | cut -d" " -f3,4; echo x > /scratch/f && stat -c %a /scratch'], out: 'tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k\n1777\n' },
    { name: '--init: the reaper is PID 1', flags: () => ['--init'], cmd: ['sh', '-c', 'echo $$; cat /proc/1/comm'], out: '2\nlayerfs-init\n' },
    { name: '--mount type=bind,readonly and type=tmpfs', flags: () => ['--mount', `type=bind,src=${bindDir()},dst=/data,readonly`, '--mount', 'type=tmpfs,destination=/t,tmpfs-size=2m,tmpfs-mode=1770'], cmd: ['sh', '-c', 'cat /data/f; touch /data/g 2>&1 | sed "s/.*: //"; grep " /t " /proc/mounts | cut -d" " -f4; stat -c %a /t'], out: 'bound\nRead-only file system\nrw,nosuid,nodev,noexec,relatime,size=2048k,mode=1770\n1770\n' },
    { name: '-v of a missing host directory makes it (as docker)', flags: () => ['-v', `${join(t.root, 'made', 'by-v')}:/m`], cmd: ['sh', '-c', 'echo in > /m/f && ls /m'], out: 'f\n' },
  ];
  const bindDir = () => {
    const d = join(t.root, 'bind');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'f'), 'bound\n');
    return d;
  };
  it.each(rows)('$name', async ({ flags, cmd, out }) => {
    const r = await layerfs('run', '--rm', '--rootfs', 'kernel', ...flags(), 'busybox:test', ...cmd);
    expect(r, r.err).toMatchObject({ code: 0, out });
  });

  it.each([
    { mount: 'type=bind,src=/no/such/dir,dst=/x', err: 'layerfs: invalid mount config for type "bind": bind source path does not exist: /no/such/dir\n' },
    { mount: 'type=volume,src=v,dst=/x', err: "layerfs: invalid --mount 'type=volume,src=v,dst=/x': named volumes are not supported (use type=bind or type=tmpfs)\n" },
    { mount: 'type=bind,src=/tmp/a:b,dst=/x', err: "layerfs: invalid --mount 'type=bind,src=/tmp/a:b,dst=/x': a path with ':' is not supported\n" },
    { mount: 'type=bind,src=/tmp,dst=/x,colour=red', err: "layerfs: invalid --mount 'type=bind,src=/tmp,dst=/x,colour=red': unexpected key 'colour'\n" },
  ])('--mount $mount: 125, nothing made', async ({ mount, err }) => {
    const before = (await layerfs('ps', '-aq')).out;
    expect(await layerfs('run', '--rm', '--mount', mount, 'busybox:test', 'true')).toMatchObject({ code: 125, out: '', err });
    expect((await layerfs('ps', '-aq')).out).toBe(before);
  });

  it('create: the container exists with run\'s flags, Created, until start runs it', async () => {
    const made = await layerfs('create', '--name', 'made', '--network', 'none', '-e', 'A=from-create', '-w', '/srv', 'busybox:test', 'sh', '-c', 'echo $A $(pwd)');
    expect(made.out).toMatch(/^[0-9a-f]{64}\n$/);
    expect((await layerfs('ps', '-a', '--filter', 'name=^made$', '--format', '{{.Status}}')).out).toBe('Created\n');
    expect(await layerfs('start', '-a', 'made')).toMatchObject({ code: 0, out: 'from-create /srv\n' });
    expect(await layerfs('rm', 'made')).toMatchObject({ code: 0 });
  });

  it('--cidfile: the ID is written when the container exists; an existing file is refused', async () => {
    const file = join(t.root, 'cid');
    const r = await layerfs('run', '--rm', '--network', 'none', '--cidfile', file, 'busybox:test', 'sh', '-c', 'hostname');
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`^${r.out.trim()}[0-9a-f]{52}$`));
    expect(await layerfs('run', '--rm', '--cidfile', file, 'busybox:test', 'true')).toMatchObject({ code: 125, err: expect.stringContaining('container ID file found') });
  });

  it('--cidfile, as docker\'s CLI: a file that cannot be made fails with nothing created; a container that cannot be created takes its file away', async () => {
    expect(await layerfs('create', '--name', 'no-cid', '--cidfile', '/nonexistent/dir/cid', 'busybox:test')).toMatchObject({ code: 125, err: 'layerfs: failed to create the container ID file: /nonexistent/dir/cid: no such file or directory\n' });
    expect(await layerfs('ps', '-a', '--filter', 'name=^no-cid$', '-q')).toMatchObject({ out: '' });
    const cid = join(t.root, 'cid-unused');
    expect(await layerfs('create', '--name', 'cid-holder', 'busybox:test')).toMatchObject({ code: 0 });
    expect(await layerfs('create', '--name', 'cid-holder', '--cidfile', cid, 'busybox:test')).toMatchObject({ code: 125, err: expect.stringContaining('Conflict. The container name "/cid-holder" is already in use') });
    expect(existsSync(cid)).toBe(false);
    expect(await layerfs('rm', 'cid-holder')).toMatchObject({ code: 0 });
  });

  it('--init: SIGTERM stops a sleep that, as PID 1, would ignore it', async () => {
    const cmd = ['sh', '-c', 'echo ready; exec sleep 100'];
    const plain = await detached('--rootfs', 'kernel', 'busybox:test', ...cmd);
    const reaped = await detached('--rootfs', 'kernel', '--init', 'busybox:test', ...cmd);
    for (const id of [plain, reaped]) await waitFor(async () => (await layerfs('logs', id)).out === 'ready\n');
    for (const id of [plain, reaped]) expect((await layerfs('kill', '-s', 'TERM', id)).code).toBe(0);
    expect((await layerfs('wait', reaped)).out).toBe('143\n');
    await new Promise((r) => setTimeout(r, 300));
    expect((await loadState(t.root, plain)).status).toBe('running');
  });

  it('--init: Ctrl-C (SIGINT to the foreground CLI) stops it', async () => {
    const child = spawn(process.execPath, [LAYERFS_BIN, 'run', '--name', 'ctrlc', '--rootfs', 'kernel', '--init', 'busybox:test', 'sh', '-c', 'echo ready; exec sleep 100'], {
      env: { ...process.env, LAYERFS_ROOT: t.root },
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
  });
});

describe('ps', () => {
  it('filters by status, name and ancestor; -q, -n, --no-trunc', async () => {
    const up = await detached('--name', 'up1', 'busybox:test', 'sleep', '100');
    expect((await layerfs('run', '--name', 'ex1', 'busybox:test', 'sh', '-c', 'exit 4')).code).toBe(4);
    const q = async (...a: string[]) => (await layerfs('ps', ...a)).out.split('\n').filter(Boolean);
    expect(await q('-q')).toEqual([up.slice(0, 12)]);
    expect(await q('-q', '--no-trunc')).toEqual([up]);
    expect(await q('-aq', '--filter', 'status=exited')).toHaveLength(1);
    expect((await layerfs('ps', '--filter', 'status=exited')).out).toMatch(/Exited \(4\) .* ago\s+ex1\n$/);
    expect(await q('-aq', '--filter', 'name=up')).toEqual([up.slice(0, 12)]);
    expect(await q('-aq', '--filter', 'ancestor=busybox:test')).toHaveLength(2);
    expect(await q('-aq', '--filter', 'ancestor=busybox:other')).toHaveLength(0);
    expect(await q('-q', '-n', '1')).toHaveLength(1);
    expect((await layerfs('ps', '--filter', 'status=bogus')).code).not.toBe(0);
  });
});

describe('as docker answers', () => {
  it('two starts at once: one supervisor, the container runs', async () => {
    const id = await detached('--name', 'twice', 'busybox:test', 'sleep', '100');
    expect((await layerfs('kill', 'twice')).code).toBe(0);
    expect((await layerfs('wait', 'twice')).out).toBe('137\n');
    const both = await Promise.all([layerfs('start', 'twice'), layerfs('start', 'twice')]);
    expect(both.map((r) => [r.code, r.out, r.err])).toEqual([[0, 'twice\n', ''], [0, 'twice\n', '']]);
    expect((await loadState(t.root, id)).status).toBe('running');
    const supervisors = processesMentioning(id).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('supervise'));
    expect(supervisors).toHaveLength(1);
  });

  const rows: Array<{ name: string; args: string[]; code: number; out?: string | RegExp; err?: string | RegExp }> = [
    { name: 'a name in use', args: ['run', '-d', '--network', 'none', '--name', 'busy', 'busybox:test', 'true'], code: 125,
      err: /^layerfs: Conflict\. The container name "\/busy" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\.\n$/ },
    { name: 'rm of a running container', args: ['rm', 'busy'], code: 1,
      err: 'layerfs: cannot remove container "/busy": container is running: stop the container before removing or force remove\n' },
    { name: 'stop of a stopped one prints its name', args: ['stop', 'gone'], code: 0, out: 'gone\n' },
    { name: 'ps -l: the latest, in any state', args: ['ps', '-l', '--format', '{{.Names}}'], code: 0, out: 'gone\n' },
    { name: 'ps --filter exited=CODE', args: ['ps', '-a', '--filter', 'exited=4', '--format', '{{.Names}} {{.Status}}'], code: 0, out: /^gone Exited \(4\) .* ago\n$/ },
    { name: 'ps --filter exited without -a: running ones only, so none', args: ['ps', '--filter', 'exited=4', '-q'], code: 0, out: '' },
    { name: 'ps --filter label=K=V and label=K', args: ['ps', '-a', '--filter', 'label=tier=web', '--filter', 'label=solo', '--format', '{{.Names}} {{.Labels}}'], code: 0, out: 'busy solo=,tier=web\n' },
    { name: 'ps --filter label= twice: both must match, as docker\'s', args: ['ps', '-a', '--filter', 'label=tier=web', '--filter', 'label=tier=db', '-q'], code: 0, out: '' },
    { name: 'ps --filter label=K=V that no one has', args: ['ps', '-a', '--filter', 'label=tier=db', '-q'], code: 0, out: '' },
    { name: 'ps --filter name= is a regular expression', args: ['ps', '-a', '--filter', 'name=^(bus|gon)', '--format', '{{.Names}}'], code: 0, out: /^(busy\ngone|gone\nbusy)\n$/ },
    { name: 'inspect: the labels and --stop-signal', args: ['inspect', '--format', '{{json .Config.Labels}} {{.Config.StopSignal}}', 'busy'], code: 0, out: '{"solo":"","tier":"web"} SIGUSR1\n' },
    { name: 'a bad --stop-signal', args: ['run', '--rm', '--stop-signal', 'SIGNOPE', 'busybox:test', 'true'], code: 125, err: /SIGNOPE/ },
    { name: 'logs --since a duration', args: ['logs', '--since', '1h', 'gone'], code: 0, out: 'said\n' },
    { name: 'logs --until an old time', args: ['logs', '--until', '2020-01-01T00:00:00Z', 'gone'], code: 0, out: '' },
    { name: 'logs --since the future', args: ['logs', '--since', String(Math.floor(Date.now() / 1000) + 3600), 'gone'], code: 0, out: '' },
    { name: 'logs --since nonsense', args: ['logs', '--since', 'yesterday', 'gone'], code: 125, err: /invalid value for "--since"/ },
    { name: '--hostname with --network container:NAME', args: ['run', '--rm', '--network', 'container:busy', '--hostname', 'h', 'busybox:test', 'true'], code: 125,
      err: 'layerfs: conflicting options: hostname and the network mode\n' },
    { name: '--network container:NAME takes its hostname and /etc/hostname', args: ['run', '--rm', '--network', 'container:busy', 'busybox:test', 'sh', '-c', 'hostname; cat /etc/hostname'], code: 0, out: 'busy-host\nbusy-host\n' },
  ];
  // As docker: a command that cannot start fails the run itself (126/127), and the container stays created.
  it.each([
    { flags: [], what: 'kept, created' },
    { flags: ['--restart', 'always'], what: 'kept, created, not restarted' },
    { flags: ['--rm'], what: 'removed' },
  ])('run -d $flags nosuchcmd: 127 with the reason; $what', async ({ flags }) => {
    const before = mountsUnder(t.root);
    const r = await layerfs('run', '-d', '--network', 'none', '--name', 'cannot', ...flags, 'busybox:test', 'nosuchcmd');
    expect([r.code, r.out, r.err]).toEqual([127, '', 'layerfs: exec "nosuchcmd": executable file not found in $PATH\n']);
    const ps = await layerfs('ps', '-a', '--filter', 'name=cannot', '--format', '{{.Status}}');
    expect(ps.out).toBe(flags.includes('--rm') ? '' : 'Created\n');
    if (!flags.includes('--rm')) {
      expect((await layerfs('inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}', 'cannot')).out)
        .toBe('created 127 exec "nosuchcmd": executable file not found in $PATH\n');
      expect(await layerfs('rm', 'cannot')).toMatchObject({ code: 0 });
    }
    expect(mountsUnder(t.root)).toEqual(before);
  });

  beforeAll(async () => {
    shared.add(await detached('--name', 'busy', '--hostname', 'busy-host', '--label', 'tier=web', '-l', 'solo', '--stop-signal', 'SIGUSR1', 'busybox:test', 'sleep', '100'));
    const gone = await detached('--name', 'gone', 'busybox:test', 'sh', '-c', 'echo said; exit 4');
    shared.add(gone);
    expect((await layerfs('wait', 'gone')).out).toBe('4\n');
  });
  afterAll(async () => {
    await layerfs('rm', '-f', 'busy', 'gone');
    shared.clear();
  });
  it.each(rows)('$name', async ({ args, code, out, err }) => {
    const r = await layerfs(...args);
    expect(r.code, r.err).toBe(code);
    for (const [got, want] of [[r.out, out], [r.err, err]] as const) {
      if (typeof want === 'string') expect(got).toBe(want);
      else if (want) expect(got).toMatch(want);
    }
  });
});

describe('output and terminals', () => {
  it('a foreground run: the command writes to pipes (as docker\'s), the output reaches us and stays in the log', async () => {
    const r = await layerfs('run', '--network', 'none', '--name', 'fg', 'busybox:test', 'sh', '-c', 'echo out; echo err >&2; [ -t 1 ] || echo no-tty');
    expect([r.code, r.out, r.err]).toEqual([0, 'out\nno-tty\n', 'err\n']);
    expect(await layerfs('logs', 'fg')).toMatchObject({ out: 'out\nno-tty\n', err: 'err\n' });
    expect(await layerfs('rm', 'fg')).toMatchObject({ code: 0 });
  });

  it('a foreground run whose reader goes away (| head -1): the container ends and --rm removes it; we exit 141 as docker\'s CLI', async () => {
    const script = `"${process.execPath}" "${LAYERFS_BIN}" run --rm --network none --name piped busybox:test yes | head -1; echo "\${PIPESTATUS[0]}"`;
    const out = await promisify(execFile)('bash', ['-c', script], { env: { ...process.env, LAYERFS_ROOT: t.root }, timeout: 30_000 });
    expect(out.stdout).toBe('y\n141\n');
    expect(await layerfs('ps', '-a', '--filter', 'name=^piped$', '-q')).toMatchObject({ out: '' });
    expect(processesMentioning('piped')).toEqual([]);
  });

  it('run -dit: the shell gets a terminal and an open stdin, so it stays up; exec reaches it; its output is logged with CRLF', async () => {
    const id = await detached('-dit', '--name', 'dit', 'busybox:test', 'sh', '-c', 'tty; [ -t 0 ] && echo term; exec sh');
    shared.add(id);
    await waitFor(async () => (await layerfs('logs', 'dit')).out.includes('term'));
    // The terminal is bound at /dev/console (a host pty, not of the container's devpts).
    expect((await layerfs('logs', 'dit')).out).toMatch(/^\/dev\/console\r\nterm\r\n/);
    await new Promise((r) => setTimeout(r, 300));
    expect((await layerfs('ps', '--filter', 'name=dit', '--format', '{{.Status}}')).out).toMatch(/^Up /);
    expect(await layerfs('exec', 'dit', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "')).toMatchObject({ code: 0, out: 'sh ' });
    // -di without a terminal: stdin is a pipe that stays open; `cat` waits on it.
    const di = await detached('-di', '--name', 'di', 'busybox:test', 'cat');
    shared.add(di);
    await new Promise((r) => setTimeout(r, 300));
    expect((await layerfs('ps', '--format', '{{.Names}} {{.Status}}')).out).toMatch(/^di Up /m);
    expect(await layerfs('rm', '-f', 'dit', 'di')).toMatchObject({ code: 0 });
  });
});
