/**
 * A real Distribution registry (Debian's docker-registry) on 127.0.0.1 with
 * a free port and its storage in a temp dir, for tests. Stopped by its PID.
 * `kill()` + `start()` again keeps the port and the storage, as a registry
 * restart would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RegistryOptions {
  /** Require these credentials (htpasswd, bcrypt). */
  user?: { name: string; password: string };
  /** Bearer tokens from a token server (see token-server.ts). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as { port: number }).port;
  await new Promise((res) => srv.close(res));
  return port;
}

const canConnect = (port: number) =>
  new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });

export class TestRegistry {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get storage(): string {
    return join(this.dir, 'data');
  }

  static async start(opts: RegistryOptions = {}): Promise<TestRegistry> {
    const dir = await mkdtemp(join(tmpdir(), 'layerfs-registry-'));
    const port = await freePort();
    let auth = '';
    if (opts.user) {
      const line = execFileSync('htpasswd', ['-Bbn', opts.user.name, opts.user.password], { encoding: 'utf8' });
      await writeFile(join(dir, 'htpasswd'), line);
      auth = `auth:\n  htpasswd:\n    realm: layerfs-test\n    path: ${join(dir, 'htpasswd')}\n`;
    }
    if (opts.token) {
      const t = opts.token;
      auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.rootCertBundle}\n`;
    }
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      auth,
    ].join('\n');
    await writeFile(join(dir, 'config.yml'), config);
    const reg = new TestRegistry(dir, port);
    await reg.start();
    return reg;
  }

  async start(): Promise<void> {
    const child = spawn('docker-registry', ['serve', join(this.dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (b: Buffer) => (this.log = (this.log + b.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${this.log}`);
      if (await canConnect(this.port)) return;
      await sleep(50);
    }
    throw new Error(`docker-registry did not listen on ${this.host}: ${this.log}`);
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((res) => child.once('exit', res));
    process.kill(child.pid!, 'SIGKILL');
    await gone;
  }

  /** Stops the registry by its PID and removes its storage. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The file holding a blob in the registry's filesystem storage. */
  blobFile(digest: string): string {
    const hex = digest.slice(7);
    return join(this.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }
}
