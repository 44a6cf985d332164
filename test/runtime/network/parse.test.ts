/** The network's small parsers and rules, as tables: -p values, subnets, resolv.conf, lease staleness. */
import { describe, expect, it } from 'vitest';
import { parsePublish } from '../../../src/runtime/network/ports.js';
import { formatIp, gatewayOf, macOf, parseIp, parseSubnet, subnetText } from '../../../src/runtime/network/ipv4.js';
import { freeAddress, isStale, ownerOf, type Lease } from '../../../src/runtime/network/address-pool.js';
import { networkSettings, portsText } from '../../../src/runtime/network/state.js';
import { resolvConfFrom } from '../../../src/runtime/network/etc-files.js';

describe('parsePublish', () => {
  it.each([
    ['8080:80', { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }],
    ['127.0.0.1:8080:80', { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, proto: 'tcp' }],
    ['8080:80/udp', { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'udp' }],
    ['127.0.0.1::53/udp', { hostIp: '127.0.0.1', hostPort: 0, containerPort: 53, proto: 'udp' }],
    ['80', { hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, proto: 'tcp' }],
  ])('%s', (spec, want) => expect(parsePublish(spec)).toEqual(want));

  it.each(['', '80:0', '70000:80', '8080:80/sctp', '300.0.0.1:80:80', 'a:80', '1:2:3:4'])('refuses %j', (spec) => {
    expect(() => parsePublish(spec)).toThrow(/invalid -p/);
  });
});

describe('ipv4', () => {
  it.each([
    ['10.77.0.0/16', '10.77.0.0/16', '10.77.0.1'],
    ['10.77.3.9/16', '10.77.0.0/16', '10.77.0.1'],
    ['192.168.5.0/24', '192.168.5.0/24', '192.168.5.1'],
  ])('%s is %s with gateway %s', (cidr, norm, gw) => {
    const s = parseSubnet(cidr);
    expect(subnetText(s)).toBe(norm);
    expect(formatIp(gatewayOf(s))).toBe(gw);
  });
  it.each(['10.77.0.0', '10.77.0.0/31', '10.77.0.0/4', '1.2.3/16'])('refuses %j', (cidr) => expect(() => parseSubnet(cidr)).toThrow(/invalid subnet/));
  it('makes a locally administered MAC from the address', () => expect(macOf(parseIp('10.77.0.2')!)).toBe('02:4c:0a:4d:00:02'));
});

describe('address pool', () => {
  const lease = (ip: string, over: Partial<Lease> = {}): Lease => ({ ip, id: ip, name: ip, ...ownerOf(), ...over });
  it.each([
    [[], '10.9.0.2'],
    [['10.9.0.2', '10.9.0.3'], '10.9.0.4'],
    [['10.9.0.3'], '10.9.0.2'],
  ])('with %j taken hands out %s', (taken, want) => expect(freeAddress(parseSubnet('10.9.0.0/24'), taken.map((ip) => lease(ip)))).toBe(want));

  it('a full /29 has 5 addresses for containers (not the network, gateway or broadcast)', () => {
    const taken = ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6'].map((ip) => lease(ip));
    expect(() => freeAddress(parseSubnet('10.9.0.0/29'), taken)).toThrow('no free address left in 10.9.0.0/29 (5 in use)');
  });

  it.each([
    ['this process, this boot', {}, false],
    ['another boot (the host rebooted)', { boot: 'another-boot' }, true],
    ['a dead process', { owner: 2 ** 22 + 1 }, true],
    ['a reused pid (another start time)', { ownerStart: '1' }, true],
  ])('a lease of %s is stale: %s', (_what, over, stale) => expect(isStale(lease('10.9.0.2', over))).toBe(stale));
});

it('portsText is the PORTS cell of ps', () => {
  expect(portsText([
    { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, proto: 'udp' },
  ])).toBe('0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp');
});

describe('resolv.conf', () => {
  const resolved = '# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n';
  it.each([
    ['the host\'s servers', 'nameserver 192.0.2.1\nsearch lan\n', undefined, false, 'search lan\nnameserver 192.0.2.1\n'],
    ['--dns replaces them, search and options stay', resolved, ['192.0.2.53'], false, '# systemd-resolved\noptions edns0 trust-ad\nsearch example.org\nnameserver 192.0.2.53\n'],
    ['loopback-only: docker\'s fallback', resolved, undefined, false, '# systemd-resolved\noptions edns0 trust-ad\nsearch example.org\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n'],
    ['loopback dropped, others kept', 'nameserver 127.0.0.1\nnameserver 192.0.2.1\n', undefined, false, 'nameserver 192.0.2.1\n'],
    ['host network keeps loopback', resolved, undefined, true, '# systemd-resolved\noptions edns0 trust-ad\nsearch example.org\nnameserver 127.0.0.53\n'],
  ] as Array<[string, string, string[] | undefined, boolean, string]>)('%s', (_what, host, dns, keep, want) => {
    expect(resolvConfFrom(host, dns, keep)).toBe(want);
  });
});

describe('networkSettings (docker inspect)', () => {
  const net = {
    mode: 'bridge', bridge: 'layerfs0', ip: '10.77.0.2', prefixLen: 16, gateway: '10.77.0.1', mac: '02:4c:0a:4d:00:02', netns: '/s/network/netns/x',
    ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, proto: 'tcp' as const }, { hostIp: '0.0.0.0', hostPort: 8081, containerPort: 80, proto: 'tcp' as const }],
  };
  const endpoint = { IPAddress: '10.77.0.2', IPPrefixLen: 16, Gateway: '10.77.0.1', MacAddress: '02:4c:0a:4d:00:02' };
  const empty = { IPAddress: '', IPPrefixLen: 0, Gateway: '', MacAddress: '' };
  it.each([
    ['running on the bridge', net, true, {
      SandboxKey: '/s/network/netns/x', Ports: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }, { HostIp: '0.0.0.0', HostPort: '8081' }] }, ...endpoint, Networks: { bridge: endpoint },
    }],
    ['stopped', net, false, { SandboxKey: '', Ports: {}, ...empty, Networks: { bridge: empty } }],
    ['none', { mode: 'none', ports: [] }, true, { SandboxKey: '', Ports: {}, ...empty, Networks: { none: empty } }],
    ['a record from before the network existed', undefined, false, { SandboxKey: '', Ports: {}, ...empty, Networks: {} }],
  ])('%s', (_what, n, running, want) => expect(networkSettings(n, running)).toEqual(want));
});
