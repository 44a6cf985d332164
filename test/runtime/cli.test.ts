/**
 * The runtime through the built CLI (`npm run build` first), as a user runs
 * it: the headline hello-world, exit codes, signal forwarding, a terminal
 * with -it (under `script`, which gives the CLI a real pty), and the
 * lifecycle commands.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELLO_MESSAGE } from '../../src/store/hello-world.js';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { containerDir, findContainer } from '../../src/runtime/containers.js';
import { addBusybox, mountsUnder, processesMentioning, tempRoot, type TempRoot } from './helpers/busybox.js';

const execFileP = promisify(execFile);
let t: TempRoot;

interface Ran { code: number; out: string; err: string }

async function layerfs(args: string[], root = t.root): Promise<Ran> {
  try {
    const r = await execFileP(process.execPath, [LAYERFS_BIN, ...args], { env: { ...process.env, LAYERFS_ROOT: root } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

/** Starts `layerfs ARGS`, waits for `ready` on its stdout, sends `signal`, returns how it ended. */
async function signalled(args: string[], signal: NodeJS.Signals): Promise<Ran> {
  const child = spawn(process.execPath, [LAYERFS_BIN, ...args], { env: { ...process.env, LAYERFS_ROOT: t.root } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number>((r) => child.on('exit', (code, sig) => r(code ?? 128)));
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
    out += d;
    if (out.includes('ready')) resolve();
  }));
  child.kill(signal);
  const code = await exited;
  return { code, out, err };
}

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store);
});

afterAll(async () => {
  expect(await t.cleanup()).toEqual([]);
});

describe('layerfs run', () => {
  it('hello-world prints the message, on a store where nothing was loaded', async () => {
    const fresh = await tempRoot();
    try {
      const r = await layerfs(['run', 'hello-world'], fresh.root);
      expect(r).toEqual({ code: 0, out: HELLO_MESSAGE, err: '' });
    } finally {
      expect(await fresh.cleanup()).toEqual([]);
    }
  });

  const exits: Array<{ args: string[]; code: number; err?: RegExp; out?: string }> = [
    { args: ['busybox:test', 'sh', '-c', 'echo $$; exit 5'], code: 5, out: '1\n' },
    { args: ['busybox:test', 'no-such-cmd'], code: 127, err: /exec "no-such-cmd": executable file not found/ },
    { args: ['busybox:test', '/etc/passwd'], code: 126, err: /exec "\/etc\/passwd": Permission denied/ },
    { args: ['--pull', 'never', 'no-such-image'], code: 125, err: /^layerfs: no such image: no-such-image\n$/ },
    // --pull missing (the default) asks the registry; port 1 on 127.0.0.1 refuses at once.
    { args: ['127.0.0.1:1/no-such-image'], code: 125, err: /^Unable to find image '127.0.0.1:1\/no-such-image' locally\nlayerfs: .*ECONNREFUSED/ },
    { args: ['-e', 'A=b', '-w', '/tmp', '--hostname', 'h1', 'busybox:test', 'sh', '-c', 'echo $A $(pwd) $(hostname)'], code: 0, out: 'b /tmp h1\n' },
  ];
  for (const x of exits) {
    it(`run --rm ${x.args.join(' ')} → ${x.code}`, async () => {
      const r = await layerfs(['run', '--rm', ...x.args]);
      expect(r.code, r.err).toBe(x.code);
      if (x.err) expect(r.err).toMatch(x.err);
      if (x.out !== undefined) expect(r.out).toBe(x.out);
    });
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`forwards ${signal} to the container's PID 1`, async () => {
      const script = `trap "echo got ${signal.slice(3)}; exit 3" ${signal.slice(3)}; echo ready; while :; do sleep 0.1; done`;
      const r = await signalled(['run', '--rm', 'busybox:test', 'sh', '-c', script], signal);
      expect(r.out).toBe(`ready\ngot ${signal.slice(3)}\n`);
      expect(r.code).toBe(3);
    });
  }

  it('-it gives the command a terminal of its own as its controlling tty', async () => {
    const cmd = `${process.execPath} ${LAYERFS_BIN} run -it --rm busybox:test sh -c 'tty; [ -t 0 ] && echo stdin-is-a-tty; echo pid=$$ term=$TERM; exit 6'`;
    const r = await new Promise<Ran>((resolve) => {
      const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { env: { ...process.env, LAYERFS_ROOT: t.root } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('exit', (code) => resolve({ code: code ?? -1, out, err: '' }));
    });
    expect(r.out.replace(/\r/g, '')).toBe('/dev/console\nstdin-is-a-tty\npid=1 term=xterm\n');
    expect(r.code).toBe(6);
  });

  it('-i passes stdin through; without it the command reads /dev/null', async () => {
    for (const [flag, expected] of [[['-i'], 'piped\n'], [[], '']] as const) {
      const child = spawn(process.execPath, [LAYERFS_BIN, 'run', ...flag, '--rm', 'busybox:test', 'cat'], { env: { ...process.env, LAYERFS_ROOT: t.root } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stdin.end('piped\n');
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      expect({ code, out }).toEqual({ code: 0, out: expected });
    }
  });

  it('-t without a terminal is refused', async () => {
    const r = await layerfs(['run', '-t', 'busybox:test', 'true']);
    expect(r.code).toBe(125);
    expect(r.err).toMatch(/not a TTY/);
  });
});

describe('ps, diff, commit, export, rm', () => {
  it('work on a named container', async () => {
    expect((await layerfs(['run', '--name', 'c1', 'busybox:test', 'sh', '-c', 'echo x > /srv/x; rm /etc/motd; exit 2'])).code).toBe(2);
    expect((await layerfs(['ps'])).out).not.toContain('c1');
    expect((await layerfs(['ps', '-a'])).out).toMatch(/busybox:test .*Exited \(2\) .* ago\s+c1\n/);
    expect((await layerfs(['diff', 'c1'])).out).toBe('C /etc\nD /etc/motd\nC /srv\nA /srv/x\n');
    const commit = await layerfs(['commit', 'c1', 'busybox:c1']);
    expect(commit.out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await layerfs(['run', '--rm', 'busybox:c1', 'cat', '/srv/x'])).out).toBe('x\n');
    const tarFile = join(t.root, 'c1.tar');
    expect((await layerfs(['export', 'c1', '-o', tarFile])).code).toBe(0);
    const { stdout } = await execFileP('tar', ['-tf', tarFile]);
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(['srv/x', 'bin/busybox', 'proc/']));
    expect(stdout).not.toContain('etc/motd');
    expect((await layerfs(['rm', 'c1'])).code).toBe(0);
    expect((await layerfs(['ps', '-a'])).out).not.toContain('c1');
    expect((await layerfs(['rm', 'c1'])).err).toMatch(/no such container: c1/);
    expect(existsSync(join(t.root, 'containers'))).toBe(true);
  });

  it('a killed runtime takes its container and mount with it; ps shows it exited; rm leaves nothing', async () => {
    const child = spawn(process.execPath, [LAYERFS_BIN, 'run', '--name', 'orphan', 'busybox:test', 'sh', '-c', 'echo ready; sleep 60'], {
      env: { ...process.env, LAYERFS_ROOT: t.root },
    });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    const state = await findContainer(t.root, 'orphan');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    // PR_SET_PDEATHSIG: init and the container's PID 1 die with the runtime; the FUSE daemon's lifeline closes, it unmounts.
    await waitFor(() => processesMentioning(state.id).length === 0 && mountsUnder(containerDir(t.root, state.id)).length === 0);
    // The network's namespace file goes when a command reconciles the record.
    expect((await layerfs(['ps', '-a'])).out).toMatch(/Exited \(137\) .* ago\s+orphan\n/);
    expect(mountsUnder(t.root)).toEqual([]);
    expect((await layerfs(['rm', 'orphan'])).code).toBe(0);
    expect(mountsUnder(t.root)).toEqual([]);
    expect(processesMentioning(state.id)).toEqual([]);
    expect(existsSync(containerDir(t.root, state.id))).toBe(false);
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(cond()).toBe(true);
}
