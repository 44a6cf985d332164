/**
 * A client for one repository on one registry: the distribution API's
 * endpoints, with auth, redirects and bounded retries layered over the
 * transport. Plain http only when the caller says so (`insecure`).
 */
import { DigestMismatchError, LayerfsError } from '../errors.js';
import { Authenticator } from './authenticator.js';
import { checkDigest, sha256 } from '../oci/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-type.js';
import type { Credentials } from './registry-config.js';
import { NetworkError, RegistryError, parseApiErrors } from './registry-error.js';
import { DEFAULT_RETRY, isTransient, withRetries, type RetryPolicy } from './retry.js';
import { discard, readBody, Transport, type Body, type HttpResponse } from './transport.js';

export type Action = 'pull' | 'push';

export interface ClientOptions {
  /** Speak plain http. Never chosen silently: the caller passes --insecure or reads the config. */
  insecure?: boolean;
  credentials?: Credentials;
  transport?: Transport;
  retry?: RetryPolicy;
  /** What the token to ask for must allow; [] asks for none (a bare login). Default: pull. */
  actions?: Action[];
  /** Told about each retry, e.g. to print "retrying in ...". */
  onRetry?: (err: unknown, attempt: number) => void;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Body;
  /** Statuses handed back to the caller; any other is read and thrown as a RegistryError. */
  ok?: number[];
  /** Off for requests whose failures the caller retries itself. */
  retry?: boolean;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TLS_MISMATCH = new Set(['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

export class RegistryClient {
  readonly base: URL;
  readonly transport: Transport;
  readonly retry: RetryPolicy;
  readonly onRetry: ((err: unknown, attempt: number) => void) | undefined;
  private readonly auth: Authenticator;
  private readonly ownsTransport: boolean;

  constructor(
    /** host[:port] the API is served from. */
    readonly host: string,
    readonly repository: string,
    opts: ClientOptions = {},
  ) {
    this.base = new URL(`${opts.insecure ? 'http' : 'https'}://${host}/v2/`);
    this.ownsTransport = opts.transport === undefined;
    this.transport = opts.transport ?? new Transport();
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.onRetry = opts.onRetry;
    const actions = opts.actions ?? ['pull'];
    this.auth = new Authenticator(this.transport, host, opts.credentials, actions.length > 0 ? `repository:${repository}:${actions.join(',')}` : undefined);
  }

  url(path: string): URL {
    return new URL(path, this.base);
  }

  /** `/v2/NAME/...` for a path under the repository. */
  repoUrl(path: string): URL {
    return this.url(`${this.repository}/${path}`);
  }

  async request(method: string, target: URL, opts: RequestOptions = {}): Promise<HttpResponse> {
    const once = () => this.requestOnce(method, target, opts);
    try {
      return opts.retry === false ? await once() : await withRetries(this.retry, once, this.onRetry);
    } catch (err) {
      throw this.explain(err, target);
    }
  }

  /** A network error made readable; the registry's own errors pass through. */
  explain(err: unknown, target: URL): unknown {
    if (err instanceof LayerfsError) return err;
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') return err;
    if (TLS_MISMATCH.has(code) && target.protocol === 'https:') {
      return new NetworkError(target.href, `TLS handshake failed (${code}); if ${this.host} speaks plain http, pass --insecure or add it to insecureRegistries in the layerfs config`, err);
    }
    return new NetworkError(target.href, `${(err as Error).message} (${code})`, err, isTransient(err));
  }

  private async requestOnce(method: string, target: URL, opts: RequestOptions): Promise<HttpResponse> {
    let url = target;
    let answered = false;
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { ...opts.headers };
      const sameOrigin = url.origin === this.base.origin;
      if (sameOrigin && this.auth.authorization) headers.authorization = this.auth.authorization;
      const res = await this.transport.send({ method, url, headers, body: opts.body });
      if (res.status === 401 && sameOrigin) {
        const body = method === 'HEAD' ? Buffer.alloc(0) : await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
        if (method === 'HEAD') await discard(res);
        // One answer per request: a second 401 means the registry read our answer and said no.
        if (answered) throw this.auth.refusal(parseApiErrors(body).map((e) => e.message).join('; '));
        await this.auth.answer(res.headers['www-authenticate'], headers.authorization);
        answered = true;
        continue;
      }
      if (REDIRECTS.has(res.status) && typeof res.headers.location === 'string' && hops < 8) {
        await discard(res);
        url = new URL(res.headers.location, url); // the blob store may sit elsewhere; auth stays with the registry
        continue;
      }
      if ((opts.ok ?? [200]).includes(res.status)) return res;
      const body = method === 'HEAD' ? Buffer.alloc(0) : await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
      if (method === 'HEAD') await discard(res);
      throw new RegistryError(method, url.href, res.status, parseApiErrors(body), body.toString('utf8').slice(0, 200).trim());
    }
  }

  /** GET and read a small body; a body cut off midway is fetched again, like a failed request. */
  private async getWhole(url: URL, headers: Record<string, string>, limit: number): Promise<{ res: HttpResponse; bytes: Buffer }> {
    const once = async () => {
      const res = await this.request('GET', url, { headers, retry: false });
      return { res, bytes: await readBody(res, limit) };
    };
    return withRetries(this.retry, once, this.onRetry).catch((err: unknown) => {
      throw this.explain(err, url);
    });
  }

  /** `GET /v2/`: checks that the registry answers and that our credentials (if any) are accepted. */
  async ping(): Promise<void> {
    await discard(await this.request('GET', this.url('')));
  }

  async getManifest(reference: string, accept = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    const { res, bytes } = await this.getWhole(this.repoUrl(`manifests/${reference}`), { accept: accept.join(', ') }, 4 << 20);
    const digest = sha256(bytes);
    const claimed = res.headers['docker-content-digest'];
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new DigestMismatchError(`manifest ${this.repository}@${reference}`, reference, digest);
    }
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new DigestMismatchError(`manifest ${this.repository}:${reference} (Docker-Content-Digest)`, claimed, digest);
    }
    const mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    return { bytes, mediaType, digest };
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', this.repoUrl(`blobs/${checkDigest(digest, 'blob')}`), { ok: [200, 404] });
    await discard(res);
    return res.status === 200;
  }

  /** A small blob (a config) read whole and verified. */
  async getBlob(digest: string, limit = 8 << 20): Promise<Buffer> {
    const { bytes } = await this.getWhole(this.repoUrl(`blobs/${checkDigest(digest, 'blob')}`), {}, limit);
    const actual = sha256(bytes);
    if (actual !== digest) {
      throw new DigestMismatchError(`blob ${this.repository}@${digest}`, digest, actual);
    }
    return bytes;
  }

  /** Returns the digest the registry computed. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', this.repoUrl(`manifests/${reference}`), {
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
      ok: [201, 200],
    });
    await discard(res);
    const digest = res.headers['docker-content-digest'];
    return typeof digest === 'string' ? digest : sha256(bytes);
  }

  close(): void {
    if (this.ownsTransport) this.transport.close();
  }
}
