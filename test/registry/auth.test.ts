/** htpasswd auth on a real registry: refused without or with wrong credentials, accepted after login. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, logout } from '../../src/registry/login.js';
import { OciLayout } from '../../src/registry/layout-target.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { AuthError } from '../../src/registry/registry-error.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { writeOciImage } from './helpers/oci-image.js';
import { TestRegistry } from './helpers/registry-server.js';

let reg: TestRegistry;
let work: string;
const user = { name: 'alice', password: 's3cret-pw' };

beforeAll(async () => {
  reg = await TestRegistry.start({ user });
  work = await mkdtemp(join(tmpdir(), 'layerfs-auth-'));
  await writeOciImage(join(work, 'src'), 'v1', [{ 'hello.txt': 'hello\n' }]);
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

const configAt = (name: string) => RegistryConfig.load(join(work, name));

describe('htpasswd auth', () => {
  it.each([
    { case: 'no credentials', creds: undefined, message: /authentication required \(run: layerfs login 127\.0\.0\.1:\d+\)/ },
    { case: 'a wrong password', creds: { username: 'alice', password: 'nope' }, message: /incorrect username or password/ },
    { case: 'an unknown user', creds: { username: 'mallory', password: 's3cret-pw' }, message: /incorrect username or password/ },
  ])('refuses a push with $case', async ({ creds, message }) => {
    const config = await configAt(`refused-${Math.random()}.json`);
    if (creds) await config.setCredentials(reg.host, creds);
    const err = await push('v1', `${reg.host}/private/app:v1`, { source: new OciLayout(join(work, 'src')), config, insecure: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(message);
  });

  it('login refuses a wrong password and stores nothing', async () => {
    const config = await configAt('wrong.json');
    await expect(login(reg.host, { username: 'alice', password: 'wrong' }, { config, insecure: true })).rejects.toThrow(/incorrect username or password/);
    await expect(stat(config.file)).rejects.toThrow(/ENOENT/);
  });

  it('login stores the credentials 0600; push and pull then work; logout forgets them', async () => {
    const config = await configAt('good.json');
    await login(reg.host, { username: user.name, password: user.password }, { config, insecure: true });
    expect((await stat(config.file)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(config.file, 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(Buffer.from(saved.auths[reg.host]!.auth, 'base64').toString()).toBe('alice:s3cret-pw');

    const ref = `${reg.host}/private/app:v1`;
    const pushed = await push('v1', ref, { source: new OciLayout(join(work, 'src')), config: await configAt('good.json'), insecure: true });
    const pulled = await pull(ref, { target: new OciLayout(join(work, 'dst')), config: await configAt('good.json'), insecure: true });
    expect(pulled.digest).toBe(pushed.digest);

    expect(await logout(reg.host, await configAt('good.json'))).toBe(true);
    expect(await logout(reg.host, await configAt('good.json'))).toBe(false);
    expect((await stat(config.file)).mode & 0o777).toBe(0o600);
    await expect(pull(ref, { target: new OciLayout(join(work, 'dst2')), config: await configAt('good.json'), insecure: true })).rejects.toThrow(AuthError);
  });
});
