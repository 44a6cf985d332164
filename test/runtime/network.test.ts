/**
 * `--network bridge` end to end on a bridge and /24 of the test's own: a web
 * server reached through a published port on 127.0.0.1, containers reaching
 * each other by name and address, 20 parallel runs, a crashed runtime's
 * lease, and nothing left behind (veths, namespace files, leases, ports).
 * Traffic goes only to 127.0.0.1 and into the namespaces these tests made.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findContainer, listContainers, type ContainerState } from '../../src/runtime/containers.js';
import { removeContainer } from '../../src/runtime/remove.js';
import { runContainer, type RunOptions, type RunResult } from '../../src/runtime/run.js';
import { etcPaths } from '../../src/runtime/network/etc-files.js';
import { describeContainer } from '../../src/runtime/describe-container.js';
import { vethName } from '../../src/runtime/network/endpoint.js';
import { natTable } from '../../src/runtime/network/bridge.js';
import { startTimeOf } from '../../src/runtime/network/address-pool.js';
import { busyboxConfig, busyboxEntries, mountsUnder, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';
import { tarOf } from '../store/fixtures.js';

const CLI = fileURLToPath(new URL('../../bin/layerfs.js', import.meta.url));
const PAGE = '<h1>served from the image</h1>\n';
const HTTPD = ['httpd', '-f', '-p', '80', '-h', '/www'];

let t: TempRoot;
let bridge: string;
let gateway: string;

beforeAll(async () => {
  t = await tempRoot();
  const net = JSON.parse(readFileSync(`${t.root}/network.json`, 'utf8')) as { bridge: string; subnet: string };
  bridge = net.bridge;
  gateway = net.subnet.replace(/\.0\/24$/, '.1');
  const layer = await tarOf([...busyboxEntries(), { name: 'www/' }, { name: 'www/index.html', content: PAGE }]);
  await t.store.addImage({ config: busyboxConfig(), layers: [() => Readable.from([layer])], tags: ['busybox:test'] });
});

afterAll(async () => {
  expect(await t.cleanup()).toEqual([]);
  expect(links()).not.toContain(bridge);
  expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toContain(natTable(bridge));
});

const links = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
const leases = () => (existsSync(`${t.root}/network/leases.json`) ? (JSON.parse(readFileSync(`${t.root}/network/leases.json`, 'utf8')) as Array<{ id: string; ip: string }>) : []);

interface Background { started: Promise<ContainerState>; done: Promise<RunResult>; stop(): Promise<RunResult> }

/** A foreground runContainer left running in this process until `stop()` kills its PID 1. */
function background(opts: Omit<RunOptions, 'root'>): Background {
  let started!: (s: ContainerState) => void;
  const startedP = new Promise<ContainerState>((r) => (started = r));
  const done = runContainer({ mounter: 'kernel', log: () => undefined, ...opts, root: t.root, onStart: (s) => started(structuredClone(s)) });
  const failed = done.then((r) => Promise.reject(new Error(`container ended before it started: ${JSON.stringify(r)}`)));
  return {
    started: Promise.race([startedP, failed]),
    done,
    async stop() {
      const s = await Promise.race([startedP, done.then(() => null)]);
      if (s?.initPid) process.kill(s.initPid, 'SIGKILL');
      return done;
    },
  };
}

/** A free port on 127.0.0.1 (bound and released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** One GET without keep-alive (no pooled socket outlives the container), retried while the server starts. */
function getOnce(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body)).on('error', reject);
    }).on('error', reject);
  });
}

async function get(url: string, tries = 50): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await getOnce(url);
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Nothing of container `id` on the host: no veth, no namespace file or mount, no lease. */
function expectGone(id: string) {
  expect(links()).not.toContain(vethName(id));
  expect(existsSync(`${t.root}/network/netns/${id}`)).toBe(false);
  expect(leases().map((l) => l.id)).not.toContain(id);
  expect(mountsUnder(`${t.root}/network`)).toEqual([]);
}

describe('bridge network', () => {
  it('a web server answers on a published 127.0.0.1 port with a page from its image', async () => {
    const port = await freePort();
    // Also `-p 80`: all host addresses, a port the kernel picks.
    const web = background({ image: 'busybox:test', command: HTTPD, name: 'web', publish: [`127.0.0.1:${port}:80`, '80'] });
    try {
      const s = await web.started;
      const picked = s.network!.ports[1]!.hostPort;
      expect(s.network).toMatchObject({
        mode: 'bridge', bridge, ip: expect.stringMatching(/^10\./), gateway,
        ports: [{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, proto: 'tcp' }, { hostIp: '0.0.0.0', hostPort: picked, containerPort: 80, proto: 'tcp' }],
      });
      expect(picked).toBeGreaterThan(0);
      // docker inspect: the bindings as asked (both, on one port), the ports as bound
      const shown = describeContainer(t.root, s) as { HostConfig: { PortBindings: unknown }; NetworkSettings: { Ports: unknown } };
      expect(shown.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }, { HostIp: '', HostPort: '' }] });
      expect(shown.NetworkSettings.Ports).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }, { HostIp: '0.0.0.0', HostPort: String(picked) }] });
      expect(await get(`http://127.0.0.1:${port}/`)).toBe(PAGE);
      expect(await get(`http://127.0.0.1:${picked}/`)).toBe(PAGE);
      expect(await get(`http://${s.network!.ip}/`)).toBe(PAGE); // the host reaches it on the bridge, too
      expect(links()).toContain(vethName(s.id));
    } finally {
      await web.stop();
    }
    const s = await findContainer(t.root, 'web');
    expectGone(s.id);
    await expect(getOnce(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ECONNREFUSED/); // the proxy closed with it
    await removeContainer(t.root, s);
  });

  it('-P publishes every exposed port (--expose here) on ports the kernel picks; one -p already gives stays as given', async () => {
    const port = await freePort();
    const web = background({ image: 'busybox:test', command: HTTPD, publishAll: true, expose: ['80', '53/udp', '8080'], publish: [`127.0.0.1:${port}:8080`] });
    try {
      const s = await web.started;
      const ports = s.network!.ports;
      expect(ports.map((p) => [p.hostIp, p.containerPort, p.proto])).toEqual([['127.0.0.1', 8080, 'tcp'], ['0.0.0.0', 80, 'tcp'], ['0.0.0.0', 53, 'udp']]);
      expect(ports[1]!.hostPort).toBeGreaterThan(0);
      expect(await get(`http://127.0.0.1:${ports[1]!.hostPort}/`)).toBe(PAGE);
      // As docker inspect: the bindings asked for, -P on its own, every exposed port in the config.
      const shown = describeContainer(t.root, s) as { HostConfig: Record<string, unknown>; Config: Record<string, unknown> };
      expect(shown.HostConfig).toMatchObject({ PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] }, PublishAllPorts: true });
      expect(shown.Config.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '8080/tcp': {} });
    } finally {
      await web.stop();
    }
    await removeContainer(t.root, await findContainer(t.root, (await web.done).id));
  });

  it('containers reach each other by name and by address, and see each other come and go', async () => {
    const a = background({ image: 'busybox:test', command: HTTPD, name: 'peer-a', remove: true });
    // Started before peer-b exists: its hosts file learns the name while it runs.
    const waiter = runCaptured(t.root, {
      image: 'busybox:test', name: 'waiter', remove: true,
      // Waits for the name in its hosts file (asking DNS would wait for its timeout), then for the server,
      // which listens a moment after peer-b took its address.
      command: ['sh', '-c', 'for i in $(seq 100); do grep -q "peer-b$" /etc/hosts && break; sleep 0.1; done; for i in $(seq 50); do wget -qO- http://peer-b/ 2>/dev/null && break; sleep 0.1; done'],
    });
    try {
      const sa = await a.started;
      const b = background({ image: 'busybox:test', command: HTTPD, name: 'peer-b', remove: true });
      try {
        await b.started;
        const r = await runCaptured(t.root, {
          image: 'busybox:test', remove: true, name: 'client',
          command: ['sh', '-c', `wget -qO- http://peer-a/ && wget -qO- http://${sa.network!.ip}/ && ip route | grep default`],
        });
        expect(r.err).toBe('');
        expect(r.out).toBe(`${PAGE}${PAGE}default via ${sa.network!.gateway} dev eth0 \n`);
        const w = await waiter;
        expect(w.out).toBe(PAGE);
        expect(readFileSync(etcPaths(t.root, sa.id).hosts, 'utf8')).toMatch(/\tpeer-b\n$/);
      } finally {
        await b.stop();
      }
      expect(readFileSync(etcPaths(t.root, sa.id).hosts, 'utf8')).not.toMatch(/peer-b|waiter|client/);
    } finally {
      await a.stop();
      await waiter;
    }
    expect(leases()).toEqual([]);
  });

  it('20 parallel runs get 20 distinct addresses, and give them all back', async () => {
    const runs = Array.from({ length: 20 }, () => background({ image: 'busybox:test', command: ['sleep', '60'], remove: true }));
    try {
      const states = await Promise.all(runs.map((r) => r.started));
      const ips = states.map((s) => s.network!.ip);
      expect(new Set(ips).size).toBe(20);
      expect(leases().map((l) => l.ip).sort()).toEqual([...ips].sort());
    } finally {
      await Promise.all(runs.map((r) => r.stop()));
    }
    expect(leases()).toEqual([]);
    expect(links()).not.toMatch(/lfv/);
  }, 60_000);

  it('--add-host, host-gateway and --dns make /etc/hosts and /etc/resolv.conf', async () => {
    const r = await runCaptured(t.root, {
      image: 'busybox:test', remove: true, hostname: 'box', addHosts: ['db:192.0.2.7', 'gw:host-gateway'], dns: ['192.0.2.53'],
      command: ['sh', '-c', 'cat /etc/hostname; grep -v "^#" /etc/hosts | tail -n 3; grep nameserver /etc/resolv.conf; hostname -i'],
    });
    const ip = r.out.split('\n').at(-2)!;
    expect(r.out).toMatch(/^box\n/);
    expect(r.out.slice(4)).toBe(`192.0.2.7\tdb\n${gateway}\tgw\n${ip}\tbox ${r.name}\nnameserver 192.0.2.53\n${ip}\n`);
  });

  it('--network container:NAME shares the running container\'s network', async () => {
    const web = background({ image: 'busybox:test', command: HTTPD, name: 'shared', remove: true });
    try {
      const s = await web.started;
      const r = await runCaptured(t.root, { image: 'busybox:test', remove: true, network: 'container:shared', command: ['sh', '-c', 'for i in $(seq 50); do wget -qO- http://127.0.0.1/ 2>/dev/null && break; sleep 0.1; done; ip -o -4 addr show eth0 | cut -d" " -f7'] });
      expect(r.out).toBe(`${PAGE}${s.network!.ip}/24\n`);
    } finally {
      await web.stop();
    }
  });

  it('a UDP port is relayed both ways', async () => {
    const port = await freePort();
    const box = background({ image: 'busybox:test', command: ['sleep', '60'], remove: true, publish: [`127.0.0.1:${port}:9999/udp`] });
    let echo: ReturnType<typeof spawn> | undefined;
    try {
      const s = await box.started;
      expect(s.network!.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: port, containerPort: 9999, proto: 'udp' }]);
      // An echo server inside the container's own namespace (busybox has no UDP server).
      const server = "const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send('echo:'+m,r.port,r.address));d.bind(9999,()=>console.log('up'))";
      echo = spawn('nsenter', [`--net=${s.network!.netns}`, process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((r) => echo!.stdout!.once('data', r));
      const client = createSocket('udp4');
      const reply = new Promise<string>((r) => client.once('message', (m) => r(m.toString())));
      client.send('ping', port, '127.0.0.1');
      expect(await reply).toBe('echo:ping');
      client.close();
    } finally {
      echo?.kill('SIGKILL');
      await box.stop();
    }
  });

  it('a published port already in use: a one-line error and nothing left behind', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      await expect(runContainer({ root: t.root, mounter: 'kernel', image: 'busybox:test', command: ['true'], name: 'clash', publish: [`127.0.0.1:${port}:80`] }))
        .rejects.toThrow(`Bind for 127.0.0.1:${port} failed: port is already allocated`);
      const s = await findContainer(t.root, 'clash');
      expect(s.status).toBe('created'); // as docker: its command never ran
      expectGone(s.id);
      await removeContainer(t.root, s);
    } finally {
      busy.close();
    }
  });

  it.each([
    ['a host port out of range', { publish: ['70000:80'] }, /invalid -p '70000:80'/],
    ['-p with container:NAME', { network: 'container:nobody', publish: ['80'] }, /conflicting options: port publishing/],
    ['a bad --add-host', { addHosts: ['nocolon'] }, /invalid --add-host 'nocolon'/],
    ['an unknown mode', { network: 'overlay' }, /invalid --network 'overlay'/],
  ] as Array<[string, Partial<RunOptions>, RegExp]>)('%s is refused', async (_name, opts, message) => {
    await expect(runContainer({ root: t.root, mounter: 'kernel', image: 'busybox:test', command: ['true'], remove: true, ...opts })).rejects.toThrow(message);
  });

  it('leases from before a reboot are free', async () => {
    const first = gateway.replace(/\.1$/, '.2');
    const old = { ip: first, id: 'f'.repeat(64), name: 'before-reboot', owner: process.pid, ownerStart: startTimeOf(process.pid), boot: 'an-earlier-boot' };
    mkdirSync(`${t.root}/network`, { recursive: true });
    writeFileSync(`${t.root}/network/leases.json`, JSON.stringify([old]));
    const r = await runCaptured(t.root, { image: 'busybox:test', remove: true, command: ['hostname', '-i'] });
    expect(r.out).toBe(`${first}\n`);
    expect(leases()).toEqual([]);
  });

  it("a killed runtime's lease is reclaimed by the next run, and rm removes the rest", async () => {
    const runtime = spawn(process.execPath, [CLI, 'run', '--root', t.root, '--rootfs', 'kernel', '--name', 'crashed', 'busybox:test', 'sleep', '60'], { stdio: 'ignore' });
    try {
      let crashed: ContainerState | undefined;
      for (let i = 0; i < 100 && crashed?.status !== 'running'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        crashed = (await listContainers(t.root)).find((c) => c.name === 'crashed');
      }
      expect(crashed?.status).toBe('running');
      expect(leases().map((l) => l.id)).toEqual([crashed!.id]);
      runtime.kill('SIGKILL');
      await new Promise((r) => runtime.once('exit', r));
      expect(links()).toContain(vethName(crashed!.id)); // left behind until someone looks

      const next = await runCaptured(t.root, { image: 'busybox:test', remove: true, command: ['hostname', '-i'] });
      expect(next.out).toBe(`${crashed!.network!.ip}\n`); // the lowest address again: the lease was free
      expect(links()).not.toContain(vethName(crashed!.id));
      expect(leases()).toEqual([]);

      await removeContainer(t.root, await findContainer(t.root, 'crashed'));
      expectGone(crashed!.id);
    } finally {
      runtime.kill('SIGKILL');
    }
  });
});
