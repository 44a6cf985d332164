/**
 * Turns a registry's 401 challenge into an Authorization header.
 *   Basic: the stored username and password, base64.
 *   Bearer: ask the challenge's realm for a token for `service` and `scope`
 *   (with the stored credentials as Basic auth if there are any, anonymous
 *   otherwise), then send `Bearer TOKEN`.
 * The header is kept and reused until the registry refuses it again.
 */
import { AuthError } from './registry-error.js';
import type { Credentials } from './registry-config.js';
import { readBody, type Transport } from './transport.js';

export interface Challenge {
  scheme: string; // lowercased: 'basic' | 'bearer' | other
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"` (first challenge only). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while ((p = re.exec(rest)) !== null && p[0] !== '') {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export const basicHeader = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

export class Authenticator {
  private header: string | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly transport: Transport,
    readonly registry: string,
    private readonly credentials: Credentials | undefined,
    /** Scope to ask token servers for, e.g. `repository:foo:pull,push`; none for a bare login. */
    private readonly scope: string | undefined,
  ) {}

  get authorization(): string | undefined {
    return this.header;
  }

  /**
   * Called after a 401. `refused` is the header the registry just turned
   * down: if it is the one we would send again, the credentials are wrong.
   */
  async answer(wwwAuthenticate: string | undefined, refused: string | undefined): Promise<string> {
    // A request sent before the last answer arrived: that answer serves it too.
    if (this.header !== undefined && this.header !== refused) return this.header;
    // Parallel requests (layers) meet the same 401 at once: one token fetch serves them all.
    if (this.pending) {
      const shared = await this.pending.catch(() => undefined);
      if (shared !== undefined && shared !== refused) return shared;
    }
    this.pending = this.newHeader(wwwAuthenticate);
    let header: string;
    try {
      header = await this.pending;
    } finally {
      this.pending = undefined;
    }
    if (header === refused) throw this.refusal();
    this.header = header;
    return header;
  }

  private async newHeader(wwwAuthenticate: string | undefined): Promise<string> {
    const challenge = wwwAuthenticate === undefined ? undefined : parseChallenge(wwwAuthenticate);
    if (challenge === undefined) throw new AuthError(this.registry, 'unauthorized, and the registry sent no WWW-Authenticate challenge');
    if (challenge.scheme === 'basic') {
      if (this.credentials === undefined) throw new AuthError(this.registry, `authentication required (run: layerfs login ${this.registry})`);
      return basicHeader(this.credentials);
    }
    if (challenge.scheme === 'bearer') return `Bearer ${await this.fetchToken(challenge)}`;
    throw new AuthError(this.registry, `unsupported authentication scheme '${challenge.scheme}'`);
  }

  /** The error for a registry that turned our answer down. */
  refusal(detail = ''): AuthError {
    const why = this.credentials ? 'unauthorized: incorrect username or password, or no access' : `authentication required (run: layerfs login ${this.registry})`;
    return new AuthError(this.registry, detail ? `${why} (${detail})` : why);
  }

  private async fetchToken(challenge: Challenge): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new AuthError(this.registry, 'Bearer challenge without a realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new AuthError(this.registry, `Bearer realm is not a URL: '${realm}'`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    // Ask for what the registry named and for all this client will do (a push
    // first meets a pull-only challenge), so one token serves the whole job.
    for (const scope of new Set([challenge.params.scope, this.scope])) if (scope) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials) headers.authorization = basicHeader(this.credentials);
    const res = await this.transport.send({ method: 'GET', url, headers });
    const body = await readBody(res, 1 << 20);
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(this.registry, this.credentials ? 'token server refused the credentials: incorrect username or password' : `authentication required (run: layerfs login ${this.registry})`);
    }
    if (res.status !== 200) throw new AuthError(this.registry, `token server ${url.origin} answered ${res.status}`);
    let json: { token?: unknown; access_token?: unknown };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new AuthError(this.registry, `token server ${url.origin} answered something that is not JSON`);
    }
    const token = typeof json.token === 'string' ? json.token : json.access_token;
    if (typeof token !== 'string' || token === '') throw new AuthError(this.registry, `token server ${url.origin} sent no token`);
    return token;
  }
}
