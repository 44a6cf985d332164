/** The commands, run as a user would: login, push, pull, logout against a registry with htpasswd auth. */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { TestRegistry } from './helpers/registry-server.js';

const LAYERFS_BIN = fileURLToPath(new URL('../../bin/layerfs.js', import.meta.url));
const exec = promisify(execFile);
let reg: TestRegistry;
let work: string;
let env: NodeJS.ProcessEnv;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs layerfs; `input` goes to its stdin. */
function layerfs(args: string[], input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAYERFS_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  reg = await TestRegistry.start({ user: { name: 'bob', password: 'hunter2hunter2' } });
  work = await mkdtemp(join(tmpdir(), 'layerfs-cli-reg-'));
  env = { ...process.env, LAYERFS_CONFIG: join(work, 'config.json'), LAYERFS_ROOT: join(work, 'store') };
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('layerfs login / push / pull / logout', () => {
  it('works end to end, and says why when it does not', async () => {
    const ref = `${reg.host}/library/hello-world:latest`;

    const anon = await layerfs(['push', '--insecure', 'hello-world', ref]);
    expect(anon.code).toBe(1);
    expect(anon.stderr).toContain(`layerfs: ${reg.host}: authentication required (run: layerfs login ${reg.host})`);

    const bad = await layerfs(['login', '--insecure', '-u', 'bob', '--password-stdin', reg.host], 'wrong\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/incorrect username or password/);

    const good = await layerfs(['login', '--insecure', '-u', 'bob', '--password-stdin', reg.host], 'hunter2hunter2\n');
    expect(good.stdout).toBe('Login Succeeded\n');
    expect(good.stderr).toContain('using plain http');
    expect((await stat(join(work, 'config.json'))).mode & 0o777).toBe(0o600);

    // login --insecure recorded the registry, so no flag is needed now; the warning still shows.
    const pushed = await layerfs(['push', 'hello-world', ref]);
    expect(pushed.stderr).toContain(`warning: ${reg.host}: using plain http`);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toMatch(new RegExp(`^The push refers to repository \\[${reg.host}/library/hello-world\\]\\n[0-9a-f]{12}: Pushed\\nlatest: digest: sha256:[0-9a-f]{64} size: \\d+\\n$`));

    env.LAYERFS_ROOT = join(work, 'store2');
    const pulled = await layerfs(['pull', ref]);
    expect(pulled.code).toBe(0);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)![1];
    expect(pulled.stdout).toMatch(new RegExp(`^[0-9a-f]{12}: Pull complete\\nDigest: ${digest}\\nStatus: Downloaded newer image for ${reg.host}/library/hello-world:latest\\n$`));
    const again = await layerfs(['pull', ref]);
    expect(again.stdout).toMatch(/^[0-9a-f]{12}: Already exists\nDigest: .*\nStatus: Image is up to date for /);

    const store = await Store.open(join(work, 'store2'));
    const img = await store.resolve(ref);
    expect((await readFile(join(store.layerDirs(img)[0]!, 'hello'))).subarray(1, 4).toString()).toBe('ELF');

    const missing = await layerfs(['pull', `${reg.host}/no/such:image`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`layerfs: ${reg.host}/no/such:image: not found on ${reg.host}`);

    expect((await layerfs(['logout', reg.host])).stdout).toBe(`Removing login credentials for ${reg.host}\n`);
    const after = await layerfs(['pull', ref]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('authentication required');
  });

  it('rejects plain http without --insecure, naming the way out', async () => {
    env.LAYERFS_CONFIG = join(work, 'empty-config.json');
    const r = await layerfs(['pull', `${reg.host}/library/hello-world`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TLS handshake failed.*pass --insecure/);
  });
});
