/**
 * `runContainer` on real namespaces and real overlay mounts (kernel overlayfs
 * here, to keep these fast; run-layerfs.test.ts covers the FUSE rootfs).
 * Every case runs a container and checks what the command saw inside.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../src/runtime/containers.js';
import { addBusybox, busyboxConfig, mountsUnder, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';
import type { RunOptions } from '../../src/runtime/run.js';

let t: TempRoot;
let hostDir: string;

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store);
  await addBusybox(t.store, 'busybox:app', busyboxConfig({ User: 'app', WorkingDir: '/work/here', Entrypoint: ['/bin/echo', 'entry'], Cmd: ['default'] }));
  hostDir = join(t.root, 'host-volume');
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'greeting'), 'hello from the host\n');
});

afterAll(async () => {
  expect(await t.cleanup()).toEqual([]);
});

/** `error`: the run's own error (a command that could not start), not the container's stderr. */
type Case = { name: string; run: Omit<RunOptions, 'root'>; out?: string | RegExp; err?: RegExp; error?: RegExp; code?: number };

const sh = (script: string, extra: Omit<RunOptions, 'root' | 'image'> = {}): Omit<RunOptions, 'root'> => ({
  image: 'busybox:test', command: ['sh', '-c', script], remove: true, ...extra,
});

const cases: Case[] = [
  { name: 'the command is PID 1', run: sh('echo $$'), out: '1\n' },
  { name: 'only its own processes are visible', run: sh('ps -o pid= -o comm= > /tmp/ps; grep -v " ps$" /tmp/ps'), out: /^\s*1 sh\n$/ },
  { name: 'the exit code is propagated', run: sh('exit 7'), code: 7 },
  { name: 'stderr is streamed apart from stdout', run: sh('echo out; echo err >&2'), out: 'out\n', err: /^err\n$/ },
  { name: 'the hostname is set', run: sh('hostname', { hostname: 'box' }), out: 'box\n' },
  { name: 'the default hostname is the short id', run: sh('hostname'), out: /^[0-9a-f]{12}\n$/ },
  { name: 'the root is pivoted: the host tree is gone', run: sh('ls /'), out: 'bin\ndev\netc\nhome\nlib\nproc\nroot\nsrv\nsys\ntmp\nvar\n' },
  { name: 'no old root is left mounted', run: sh('cut -d" " -f2 /proc/mounts | grep -v "^/proc/\\|^/sys/" | sort | tr "\\n" " "'), out: '/ /dev /dev/mqueue /dev/pts /dev/shm /etc/hostname /etc/hosts /etc/resolv.conf /proc /sys ' },
  { name: '/etc/hostname and /etc/hosts name the container', run: sh('cat /etc/hostname; grep box /etc/hosts', { hostname: 'box' }), out: /^box\n10\.[\d.]+\tbox layerfs_[0-9a-f]{12}\n$/ },
  { name: 'network none: /etc/hosts names it on 127.0.1.1', run: sh('grep box /etc/hosts', { hostname: 'box', network: 'none' }), out: '127.0.1.1\tbox\n' },
  { name: "/etc keeps the image's metadata", run: sh('stat -c "%a %u %Y" /etc'), out: '755 0 1577934245\n' },
  { name: '/dev holds the minimal set', run: sh('ls /dev | tr "\\n" " "'), out: 'core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ' },
  { name: '/dev/null and /dev/zero work', run: sh('echo x > /dev/null && head -c 3 /dev/zero | od -An -tx1'), out: ' 00 00 00\n' },
  { name: '/dev/pts is a new instance', run: sh('grep devpts /proc/mounts'), out: /newinstance|ptmxmode=666/ },
  { name: 'network none: only lo, and it is up', run: sh('ls /sys/class/net; cat /sys/class/net/lo/operstate', { network: 'none' }), out: /^lo\n(unknown|up)\n$/i },
  { name: 'network bridge (the default): lo and eth0, both up', run: sh('ls /sys/class/net; cat /sys/class/net/eth0/operstate'), out: 'eth0\nlo\nup\n' },
  { name: 'network host: the host interfaces', run: sh('ls /sys/class/net | wc -l', { network: 'host' }), out: /^\s*([2-9]|\d\d+)\n$/ },
  { name: 'image Env, -e overrides, PATH and HOME', run: sh('echo $FROM_IMAGE $X $PATH $HOME', { env: ['X=1', 'FROM_IMAGE=flag'] }), out: 'flag 1 /bin /root\n' },
  { name: '-e NAME takes the host value', run: sh('echo "[$LAYERFS_TEST_HOSTVAR]"', { env: ['LAYERFS_TEST_HOSTVAR'] }), out: '[from-host]\n' },
  { name: 'the workdir is created and entered', run: sh('pwd', { workdir: '/made/here' }), out: '/made/here\n' },
  { name: '-u by name: uid, gid and groups from /etc/passwd', run: sh('id', { user: 'app' }), out: 'uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)\n' },
  { name: '-u uid:gid', run: sh('id -u; id -g', { user: '4242:77' }), out: '4242\n77\n' },
  { name: 'image User, WorkingDir and Entrypoint; CMD args replace Cmd', run: { image: 'busybox:app', command: ['given'], remove: true }, out: 'entry given\n' },
  { name: 'image Cmd follows the Entrypoint when no CMD is given', run: { image: 'busybox:app', remove: true }, out: 'entry default\n' },
  { name: 'a volume is bind-mounted', run: sh('cat /data/greeting', { volumes: [] }), out: 'hello from the host\n' },
  { name: 'a read-only volume refuses writes', run: sh('touch /data/x 2>&1; echo $?', { volumes: [] }), out: /Read-only file system\n1\n$/ },
  { name: 'not found: 127 with the name', run: { image: 'busybox:test', command: ['no-such-cmd'], remove: true }, code: 127, error: /^exec "no-such-cmd": executable file not found in \$PATH$/ },
  { name: 'not executable: 126 with the name', run: { image: 'busybox:test', command: ['/srv/tool'], remove: true }, code: 126, error: /^exec "\/srv\/tool": Permission denied$/ },
  { name: 'a missing path: 127', run: { image: 'busybox:test', command: ['/no/such'], remove: true }, code: 127, error: /^exec "\/no\/such": No such file/ },
];

describe('run', () => {
  process.env.LAYERFS_TEST_HOSTVAR = 'from-host';
  for (const c of cases) {
    it(c.name, async () => {
      const run = { ...c.run };
      if (c.name.includes('volume')) run.volumes = [`${hostDir}:/data${c.name.includes('read-only') ? ':ro' : ''}`];
      const r = await runCaptured(t.root, run);
      expect(r.exitCode, r.err).toBe(c.code ?? 0);
      if (c.out !== undefined) expect(r.out).toMatch(typeof c.out === 'string' ? new RegExp(`^${c.out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : c.out);
      if (c.err !== undefined) expect(r.err).toMatch(c.err);
      if (c.error !== undefined) expect([r.status, r.error, r.err]).toEqual(['created', expect.stringMatching(c.error), '']);
      expect(mountsUnder(t.root)).toEqual([]);
    });
  }

  it('removes nothing without --rm: the record keeps the status and exit code', async () => {
    const r = await runCaptured(t.root, { image: 'busybox:test', command: ['sh', '-c', 'echo kept > /srv/new; exit 3'], name: 'keep-me' });
    expect(r.exitCode).toBe(3);
    const c = (await listContainers(t.root)).find((x) => x.name === 'keep-me');
    expect(c).toMatchObject({ status: 'exited', exitCode: 3, args: ['sh', '-c', 'echo kept > /srv/new; exit 3'] });
  });

  it('refuses a name in use', async () => {
    await expect(runCaptured(t.root, { image: 'busybox:test', command: ['true'], name: 'keep-me' })).rejects.toThrow(/already in use/);
  });

  it('an unknown image is a clear error and creates nothing', async () => {
    const before = (await listContainers(t.root)).length;
    await expect(runCaptured(t.root, { image: 'no-such-image:1', command: ['true'] })).rejects.toThrow(/no such image: no-such-image:1/);
    expect((await listContainers(t.root)).length).toBe(before);
  });

  it('--rm cleans up even when the setup fails', async () => {
    const before = (await listContainers(t.root)).length;
    await expect(runCaptured(t.root, { image: 'busybox:test', command: ['true'], user: 'nosuchuser', remove: true })).rejects.toThrow(/unable to find user nosuchuser/);
    expect((await listContainers(t.root)).length).toBe(before);
    expect(mountsUnder(t.root)).toEqual([]);
  });
});
