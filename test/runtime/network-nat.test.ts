/**
 * `"nat": true` in network.json: a container on the bridge reaches a host
 * beyond another interface of this machine, masqueraded as this machine. The
 * "outside" is a network namespace the test makes, joined to the host by a
 * veth pair of its own; its TCP server answers with the address it saw. The
 * host-wide ip_forward switch is put back as it was.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natTable } from '../../src/runtime/network/bridge.js';
import { busyboxConfig, busyboxEntries, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';
import { tarOf } from '../store/fixtures.js';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const FORWARD = '/proc/sys/net/ipv4/ip_forward';

let t: TempRoot;
let bridge: string;
const ns = `lfo${randomBytes(3).toString('hex')}`;
const net = `10.${randomInt(224, 240)}.${randomInt(0, 256)}`;
const hostSide = `${net}.1`;
const outside = `${net}.2`;
const forwardBefore = readFileSync(FORWARD, 'utf8');
let server: ChildProcess;

beforeAll(async () => {
  t = await tempRoot();
  const cfg = JSON.parse(readFileSync(`${t.root}/network.json`, 'utf8')) as { bridge: string; subnet: string };
  bridge = cfg.bridge;
  writeFileSync(`${t.root}/network.json`, JSON.stringify({ ...cfg, nat: true }) + '\n');
  await t.store.addImage({ config: busyboxConfig(), layers: [async () => Readable.from([await tarOf(busyboxEntries())])], tags: ['busybox:test'] });
  ip('netns', 'add', ns);
  ip('link', 'add', `${ns}h`, 'type', 'veth', 'peer', 'name', `${ns}o`);
  ip('link', 'set', `${ns}o`, 'netns', ns);
  ip('addr', 'add', `${hostSide}/30`, 'dev', `${ns}h`);
  ip('link', 'set', `${ns}h`, 'up');
  ip('-n', ns, 'addr', 'add', `${outside}/30`, 'dev', `${ns}o`);
  ip('-n', ns, 'link', 'set', `${ns}o`, 'up');
  // No route back to the bridge's subnet out there: only a masqueraded reply can come back.
  server = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', [
    'import socket', 's = socket.socket()', 's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind(("${outside}", 8080))`, 's.listen()', 'print("up", flush=True)',
    'while True:', '    c, a = s.accept()', '    c.sendall(("seen " + a[0] + "\\n").encode())', '    c.close()',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
});

afterAll(async () => {
  server?.kill('SIGKILL');
  try {
    ip('netns', 'del', ns);
  } catch {
    // not made
  }
  expect(await t.cleanup()).toEqual([]);
  writeFileSync(FORWARD, forwardBefore);
  expect(ip('-o', 'link', 'show')).not.toMatch(new RegExp(`${bridge}|${ns}`));
  expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toContain(natTable(bridge));
});

describe('bridge network with nat', () => {
  it('a container reaches a host beyond another interface, which sees this machine\'s address', async () => {
    const r = await runCaptured(t.root, { image: 'busybox:test', command: ['nc', '-w', '5', outside, '8080'], network: 'bridge', remove: true, mounter: 'kernel' });
    expect([r.exitCode, r.out, r.err]).toEqual([0, `seen ${hostSide}\n`, '']);
    expect(readFileSync(FORWARD, 'utf8')).toBe('1\n');
    expect(execFileSync('nft', ['list', 'table', 'ip', natTable(bridge)], { encoding: 'utf8' })).toMatch(/masquerade/);
  });
});
