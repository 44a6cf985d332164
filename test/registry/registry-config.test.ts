import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfigPath, RegistryConfig } from '../../src/registry/registry-config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layerfs-regcfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('RegistryConfig', () => {
  it.each([
    { env: { LAYERFS_CONFIG: '/x/c.json', HOME: '/h' }, want: '/x/c.json' },
    { env: { XDG_CONFIG_HOME: '/xdg' }, want: '/xdg/layerfs/config.json' },
  ])('finds its file: $want', ({ env, want }) => {
    expect(defaultConfigPath(env)).toBe(want);
  });

  it('writes credentials 0600 in a fresh directory, even over a looser file, keeping other keys', async () => {
    const file = join(dir, 'sub', 'config.json');
    const c = await RegistryConfig.load(file);
    expect(c.credentials('r:1')).toBeUndefined();
    await c.setCredentials('r:1', { username: 'u', password: 'p:with:colons' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'sub'))).mode & 0o777).toBe(0o700);

    await chmod(file, 0o644);
    const text = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...text, other: { kept: true } }));
    const again = await RegistryConfig.load(file);
    expect(again.credentials('r:1')).toEqual({ username: 'u', password: 'p:with:colons' });
    await again.setInsecure('r:1', true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(saved.other).toEqual({ kept: true });
    expect(saved.insecureRegistries).toEqual(['r:1']);
    expect((await RegistryConfig.load(file)).isInsecure('r:1')).toBe(true);
    expect((await RegistryConfig.load(file)).isInsecure('r:2')).toBe(false);
  });

  it.each([
    { text: '{ nope', why: /bad\.json: not valid JSON/ },
    { text: '[1]', why: /bad\.json: expected a JSON object/ },
  ])('names the file when it is broken: $text', async ({ text, why }) => {
    const file = join(dir, 'bad.json');
    await writeFile(file, text);
    await expect(RegistryConfig.load(file)).rejects.toThrow(why);
  });

  it('names the entry when an auth is not user:password', async () => {
    const file = join(dir, 'badauth.json');
    await writeFile(file, JSON.stringify({ auths: { h: { auth: Buffer.from('nocolon').toString('base64') } } }));
    await expect(RegistryConfig.load(file).then((c) => c.credentials('h'))).rejects.toThrow(/auths\.h\.auth is not base64 of user:password/);
  });
});
