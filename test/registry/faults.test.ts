/**
 * Network faults a real registry cannot be made to produce on demand: 5xx
 * answers, resets, silence, a server that ignores Range. Loopback servers
 * inject them in front of the client's own code paths.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { downloadBlob } from '../../src/registry/blob-download.js';
import { RegistryClient } from '../../src/registry/client.js';
import { NetworkError, RegistryError } from '../../src/registry/registry-error.js';
import { TimeoutError, Transport } from '../../src/registry/transport.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
let server: Server | undefined;
let work: string;
const FAST = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

async function serve(handler: Handler): Promise<{ host: string; count: () => number }> {
  let n = 0;
  server = createServer((req, res) => handler(req, res, ++n));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, count: () => n };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'layerfs-faults-'));
});
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const ok = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');

describe('retries', () => {
  it.each([
    { case: '503 twice, then 200', handler: ((_q, r, n) => (n <= 2 ? r.writeHead(503).end() : ok(r))) as Handler, result: 'ok', requests: 3 },
    { case: 'a reset, then 200', handler: ((q, r, n) => (n === 1 ? q.socket.destroy() : ok(r))) as Handler, result: 'ok', requests: 2 },
    { case: '429, then 200', handler: ((_q, r, n) => (n === 1 ? r.writeHead(429).end() : ok(r))) as Handler, result: 'ok', requests: 2 },
    { case: '500 forever (bounded)', handler: ((_q, r) => r.writeHead(500).end()) as Handler, result: RegistryError, requests: FAST.attempts },
    { case: 'resets forever (bounded)', handler: ((q) => q.socket.destroy()) as Handler, result: NetworkError, requests: FAST.attempts },
    { case: '404 (not retried)', handler: ((_q, r) => r.writeHead(404).end('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}')) as Handler, result: RegistryError, requests: 1 },
  ])('$case', async ({ handler, result, requests }) => {
    const srv = await serve(handler);
    const client = new RegistryClient(srv.host, 'x', { insecure: true, retry: FAST });
    try {
      const outcome = await client.ping().then(() => 'ok', (e: unknown) => e);
      if (result === 'ok') expect(outcome).toBe('ok');
      else expect(outcome).toBeInstanceOf(result);
      expect(srv.count()).toBe(requests);
    } finally {
      client.close();
    }
  });

  it('times out a silent server on every try', async () => {
    const srv = await serve(() => {}); // accepts, never answers
    const client = new RegistryClient(srv.host, 'x', { insecure: true, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 5 }, transport: new Transport({ timeoutMs: 150 }) });
    try {
      const err = await client.ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toMatch(/v2\/: no answer for 150 ms/);
      expect(srv.count()).toBe(2);
    } finally {
      client.transport.close();
    }
  });

  it('reuses one keep-alive connection for sequential requests', async () => {
    const sockets = new Set<unknown>();
    const srv = await serve((q, r) => (sockets.add(q.socket), ok(r)));
    const client = new RegistryClient(srv.host, 'x', { insecure: true });
    try {
      for (let i = 0; i < 5; i++) await client.ping();
      expect(srv.count()).toBe(5);
      expect(sockets.size).toBe(1);
    } finally {
      client.close();
    }
  });
});

describe('blob download after a broken connection', () => {
  const blob = Buffer.alloc(256 * 1024, 7);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const desc = { mediaType: 'application/octet-stream', digest, size: blob.length };

  /** First answer breaks off halfway; later ones honour Range or not. */
  const breaking = (honourRange: boolean): Handler => (req, res, n) => {
    const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (n === 1) {
      res.writeHead(200, { 'content-length': blob.length });
      // Let the client read what was sent before the reset: an RST discards unread data.
      res.write(blob.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    if (honourRange && m) {
      const start = Number(m[1]);
      res.writeHead(206, { 'content-length': blob.length - start, 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` }).end(blob.subarray(start));
    } else res.writeHead(200, { 'content-length': blob.length }).end(blob);
  };

  it.each([
    { case: 'resumes with Range when the server honours it', honourRange: true, resumed: true },
    { case: 'starts over when the server ignores Range', honourRange: false, resumed: false },
  ])('$case', async ({ honourRange, resumed }) => {
    const srv = await serve(breaking(honourRange));
    const client = new RegistryClient(srv.host, 'x', { insecure: true, retry: FAST });
    const file = join(work, `blob-${honourRange}`);
    try {
      const res = await downloadBlob(client, desc, file);
      expect(res.resumedAt.length > 0).toBe(resumed);
      if (resumed) expect(res.resumedAt[0]).toBeGreaterThan(0);
      expect((await readFile(file)).equals(blob)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('resumes after the server was unreachable for a while', async () => {
    const srv = await serve(breaking(true));
    const port = Number(srv.host.split(':')[1]);
    const client = new RegistryClient(srv.host, 'x', { insecure: true, retry: { attempts: 6, baseDelayMs: 40, maxDelayMs: 100 } });
    const refused: string[] = [];
    const file = join(work, 'unreachable');
    let closed = false;
    try {
      const res = await downloadBlob(client, desc, file, {
        onResume: (_offset, err) => {
          refused.push(String((err as { code?: string }).code));
          if (closed) return;
          closed = true;
          // Down for the next try or two, then back on the same port.
          server!.close();
          server!.closeAllConnections();
          setTimeout(() => server!.listen(port, '127.0.0.1'), 60);
        },
      });
      expect(refused).toContain('NETWORK'); // a refused connection, retried
      expect(res.resumedAt.length).toBeGreaterThan(0);
      expect((await readFile(file)).equals(blob)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('resumes a body that stalls midway once the idle timeout fires', async () => {
    const srv = await serve((req, res, n) => {
      const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      if (n === 1) return void res.writeHead(200, { 'content-length': blob.length }).write(blob.subarray(0, 50_000)); // then silence
      const start = Number(m?.[1] ?? 0);
      res.writeHead(206, { 'content-length': blob.length - start, 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` }).end(blob.subarray(start));
    });
    const client = new RegistryClient(srv.host, 'x', { insecure: true, retry: FAST, transport: new Transport({ timeoutMs: 200 }) });
    const file = join(work, 'stalled');
    try {
      const res = await downloadBlob(client, desc, file);
      expect(res.resumedAt).toEqual([50_000]);
      expect((await readFile(file)).equals(blob)).toBe(true);
    } finally {
      client.transport.close();
    }
  });

  it('refuses a body longer than the manifest says, and removes the file', async () => {
    const srv = await serve((_q, r) => r.writeHead(200).end(Buffer.concat([blob, Buffer.from('extra')])));
    const client = new RegistryClient(srv.host, 'x', { insecure: true, retry: FAST });
    const file = join(work, 'too-long');
    try {
      await expect(downloadBlob(client, desc, file)).rejects.toThrow(/more than the 262144 bytes the manifest declares/);
      await expect(readFile(file)).rejects.toThrow(/ENOENT/);
    } finally {
      client.close();
    }
  });
});
