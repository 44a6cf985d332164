/**
 * A token server for the registry's Bearer flow, as Docker Hub runs one:
 * GET /token?service=S&scope=repository:NAME:ACTIONS with Basic credentials
 * returns a JWT (RS256, the signing certificate in `x5c`) that the registry
 * checks against its rootcertbundle. Only `user` gets a token; it is granted
 * the actions it asks for, except `push` on repositories under `readonly/`.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class TokenServer {
  /** One entry per token issued: the scopes asked for. */
  readonly issued: string[][] = [];
  private constructor(
    private readonly server: Server,
    readonly realm: string,
    readonly certFile: string,
  ) {}

  static readonly service = 'layerfs-test-registry';
  static readonly issuer = 'layerfs-test-issuer';

  static async start(dir: string, user: { name: string; password: string }): Promise<TokenServer> {
    const keyFile = join(dir, 'token.key');
    const certFile = join(dir, 'token.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=layerfs-test-token'], { stdio: 'ignore' });
    const key = createPrivateKey(readFileSync(keyFile));
    const der = readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
    const expected = `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`;
    let self: TokenServer | undefined;
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.headers.authorization !== expected) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
      self!.issued.push(url.searchParams.getAll('scope'));
      const access = url.searchParams.getAll('scope').flatMap((scope) => {
        const [type, name, actions] = scope.split(':');
        if (type !== 'repository' || !name || !actions) return [];
        const granted = actions.split(',').filter((a) => !(a === 'push' && name.startsWith('readonly/')));
        return [{ type, name, actions: granted }];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: 'JWT', alg: 'RS256', x5c: [der] };
      const claims = { iss: TokenServer.issuer, sub: user.name, aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const token = `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
    self = new TokenServer(server, realm, certFile);
    return self;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
