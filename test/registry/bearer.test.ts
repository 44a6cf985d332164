/** The Bearer token flow: a real registry with token auth, and a token server issuing JWTs it trusts. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../../src/registry/login.js';
import { OciLayout } from '../../src/registry/layout-target.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { AuthError } from '../../src/registry/registry-error.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { writeOciImage } from './helpers/oci-image.js';
import { TestRegistry } from './helpers/registry-server.js';
import { TokenServer } from './helpers/token-server.js';

const user = { name: 'carol', password: 'token-pass' };
let tokens: TokenServer;
let reg: TestRegistry;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'layerfs-bearer-'));
  tokens = await TokenServer.start(work, user);
  reg = await TestRegistry.start({ token: { realm: tokens.realm, service: TokenServer.service, issuer: TokenServer.issuer, rootCertBundle: tokens.certFile } });
  await writeOciImage(join(work, 'src'), 'v1', [{ 'token.txt': 'bearer\n' }]);
});
afterAll(async () => {
  await reg?.stop();
  await tokens?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('Bearer token auth', () => {
  it('gets a token for the scope the registry names, then pushes and pulls', async () => {
    const config = await RegistryConfig.load(join(work, 'good.json'));
    await login(reg.host, { username: user.name, password: user.password }, { config, insecure: true });
    const ref = `${reg.host}/team/app:v1`;
    const before = tokens.issued.length;
    const pushed = await push('v1', ref, { source: new OciLayout(join(work, 'src')), config, insecure: true });
    // One token for the whole push, though its layers met the challenge in parallel.
    expect(tokens.issued.slice(before)).toEqual([['repository:team/app:pull', 'repository:team/app:pull,push']]);
    const pulled = await pull(ref, { target: new OciLayout(join(work, 'dst')), config, insecure: true });
    expect(pulled.digest).toBe(pushed.digest);
    expect(tokens.issued.slice(before + 1)).toEqual([['repository:team/app:pull']]);
  });

  it.each([
    { case: 'without credentials', creds: undefined, why: /authentication required \(run: layerfs login/ },
    { case: 'with a wrong password', creds: { username: user.name, password: 'nope' }, why: /token server refused the credentials/ },
  ])('is refused $case', async ({ creds, why }) => {
    const config = await RegistryConfig.load(join(work, `refused-${Math.random()}.json`));
    if (creds) await config.setCredentials(reg.host, creds);
    const err = await pull(`${reg.host}/team/app:v1`, { target: new OciLayout(join(work, 'never')), config, insecure: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(why);
  });

  it('reports a scope the token server will not grant as no access', async () => {
    const config = await RegistryConfig.load(join(work, 'good.json'));
    const err = await push('v1', `${reg.host}/readonly/app:v1`, { source: new OciLayout(join(work, 'src')), config, insecure: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(/no access/);
  });
});
