/**
 * One HTTP exchange over keep-alive agents, with an idle timeout on every
 * request (connect, headers and each pause in the body). No retries, no auth:
 * the client layers those on top. A response body must be consumed or
 * destroyed, or its socket never returns to the pool.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { LayerfsError } from '../errors.js';

export type Body = Buffer | (() => Readable);

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A buffer, or an opener so the same body can be sent again after a 401 or a reset. */
  body?: Body;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: URL;
}

export class TimeoutError extends LayerfsError {
  constructor(url: string, ms: number) {
    super('ETIMEDOUT', `${url}: no answer for ${ms} ms`, { url, ms });
  }
}

export interface TransportOptions {
  /** Idle timeout: how long the socket may stay silent. */
  timeoutMs?: number;
  maxSockets?: number;
}

export class Transport {
  readonly timeoutMs: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(opts: TransportOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 8 };
    this.httpAgent = new http.Agent(agentOpts);
    this.httpsAgent = new https.Agent(agentOpts);
  }

  send(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req;
    const secure = url.protocol === 'https:';
    const mod = secure ? https : http;
    return new Promise((resolve, reject) => {
      const cr = mod.request(url, {
        method: req.method,
        headers: req.headers,
        agent: secure ? this.httpsAgent : this.httpAgent,
        timeout: this.timeoutMs,
      });
      // The socket's idle timer keeps running while the body streams, so a
      // stalled download fails here too, as an error on the response body.
      cr.on('timeout', () => cr.destroy(new TimeoutError(url.href, this.timeoutMs)));
      cr.on('error', reject);
      cr.on('response', (res) => {
        res.on('error', () => {}); // reported to whoever reads the body
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      });
      const body = req.body;
      if (body === undefined) cr.end();
      else if (Buffer.isBuffer(body)) cr.end(body);
      else {
        const src = body();
        src.on('error', (err) => cr.destroy(err));
        cr.on('close', () => src.destroy()); // a failed request must not leave a file open
        src.pipe(cr);
      }
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Reads a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.body.destroy();
      throw new LayerfsError('TOO_LARGE', `${res.url.href}: response larger than ${limit} bytes`, { url: res.url.href, limit });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Throws a body away so the socket can be reused. */
export async function discard(res: HttpResponse): Promise<void> {
  try {
    for await (const _ of res.body) void _;
  } catch {
    // a broken body only costs the socket
  }
}
