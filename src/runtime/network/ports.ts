/**
 * Published ports (`-p [IP:][HOSTPORT:]CTRPORT[/tcp|udp]`) through a userland
 * proxy in the process that owns the container (the foreground runtime or
 * its supervisor), as docker-proxy does for the host's own connections: a
 * DNAT rule would not see traffic to 127.0.0.1 without the host-wide
 * route_localnet switch (see native-notes/network.md). The proxy listens
 * while the container runs and closes with it.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { LayerfsError, UsageError } from '../../errors.js';
import { parseIp } from './ipv4.js';
import type { PortMapping } from './state.js';

const PUBLISH = /^(?:(\d+\.\d+\.\d+\.\d+):)?(?:(\d*):)?(\d+)(?:\/(tcp|udp))?$/;

/** Parses one `-p` value; a missing host port is 0 (the kernel picks one, as `docker run -p 80`). */
export function parsePublish(spec: string): PortMapping {
  const m = PUBLISH.exec(spec);
  const hostPort = Number(m?.[2] || 0);
  const containerPort = Number(m?.[3]);
  if (!m || (m[1] !== undefined && parseIp(m[1]) === null) || hostPort > 65535 || containerPort < 1 || containerPort > 65535) {
    throw new UsageError(`invalid -p '${spec}': want [IP:][HOSTPORT:]CTRPORT[/tcp|udp], like 8080:80 or 127.0.0.1:5353:53/udp`);
  }
  return { hostIp: m[1] ?? '0.0.0.0', hostPort, containerPort, proto: (m[4] ?? 'tcp') as 'tcp' | 'udp' };
}

export interface Publisher {
  /** The mappings as bound (a host port of 0 replaced by the one the kernel chose). */
  ports: PortMapping[];
  stop(): Promise<void>;
}

interface Listener { port: number; close(): Promise<void> }

function bindError(p: PortMapping, err: NodeJS.ErrnoException): LayerfsError {
  const where = `${p.hostIp}:${p.hostPort}`;
  return err.code === 'EADDRINUSE'
    ? new LayerfsError('PORT_IN_USE', `Bind for ${where} failed: port is already allocated`, { port: p.hostPort })
    : new LayerfsError('NETWORK', `Bind for ${where} failed: ${err.message}`, { port: p.hostPort });
}

/** TCP: each accepted connection gets one to the container; either side's end or error ends both. */
function tcpProxy(p: PortMapping, target: string): Promise<Listener> {
  const open = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: target, port: p.containerPort, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    const abort = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', abort).on('close', () => upstream.destroy());
    upstream.on('error', abort).on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(bindError(p, err)));
    server.listen(p.hostPort, p.hostIp, () => {
      resolve({
        port: (server.address() as { port: number }).port,
        close: () => new Promise<void>((done) => {
          for (const s of open) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

/** UDP: one socket to the container per client address, dropped after 90 s without traffic (docker-proxy's timeout). */
function udpProxy(p: PortMapping, target: string): Promise<Listener> {
  const front = createSocket('udp4');
  const flows = new Map<string, { sock: UdpSocket; timer: NodeJS.Timeout }>();
  const drop = (key: string) => {
    const f = flows.get(key);
    if (!f) return;
    clearTimeout(f.timer);
    f.sock.close();
    flows.delete(key);
  };
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const sock = createSocket('udp4');
      sock.on('message', (reply) => front.send(reply, from.port, from.address));
      sock.on('error', () => drop(key));
      flow = { sock, timer: setTimeout(() => drop(key), 90_000) };
      flows.set(key, flow);
    }
    flow.timer.refresh();
    flow.sock.send(msg, p.containerPort, target);
  });
  return new Promise((resolve, reject) => {
    front.once('error', (err) => reject(bindError(p, err)));
    front.bind(p.hostPort, p.hostIp, () => {
      front.on('error', () => undefined);
      resolve({
        port: front.address().port,
        close: () => new Promise<void>((done) => {
          for (const key of [...flows.keys()]) drop(key);
          front.close(() => done());
        }),
      });
    });
  });
}

/** Starts a proxy per mapping to `target`; if one cannot bind, the others are closed and its error thrown. */
export async function publish(mappings: PortMapping[], target: string): Promise<Publisher> {
  const listeners: Listener[] = [];
  const stop = async () => {
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  };
  const ports: PortMapping[] = [];
  try {
    for (const p of mappings) {
      const l = await (p.proto === 'udp' ? udpProxy(p, target) : tcpProxy(p, target));
      listeners.push(l);
      ports.push({ ...p, hostPort: l.port });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, stop };
}
