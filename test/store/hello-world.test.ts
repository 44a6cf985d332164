/** The built-in hello-world image: our own ELF runs and prints seed 001's text; the image is a real OCI image. */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuiltin, HELLO_MESSAGE, helloElf, helloWorldLayer } from '../../src/store/hello-world.js';
import { Store } from '../../src/store/store.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-hello-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The message block of seed 001: the lines after `docker run hello-world` up to the closing fence. */
function seedMessage(): string | null {
  const dir = new URL('../../../shared/seeds/', import.meta.url);
  if (!existsSync(dir)) return null;
  const file = readdirSync(dir).find((n) => n.startsWith('001_'));
  if (!file) return null;
  const lines = readFileSync(new URL(file, dir), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.endsWith('docker run hello-world'));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('```'));
  return lines.slice(start + 1, end).join('\n') + '\n';
}

describe('hello-world ELF', () => {
  it('matches the seed text byte for byte', () => {
    const seed = seedMessage();
    if (seed !== null) expect(HELLO_MESSAGE).toBe(seed);
    expect(HELLO_MESSAGE).toMatch(/^Hello from Docker\.\n[\s\S]* 1\. The Docker client[\s\S]*userguide\/\n$/);
  });

  it('runs on this machine, prints exactly the message, exits 0, and is as small as the original', () => {
    const elf = helloElf();
    const path = join(tmp, 'hello');
    writeFileSync(path, elf);
    chmodSync(path, 0o755);
    const out = execFileSync(path, { encoding: 'buffer' });
    expect(out.toString('utf8')).toBe(HELLO_MESSAGE);
    // hello.asm assembled by nasm is 910 bytes: 120 of headers, 39 of code, 751 of text.
    expect(elf.length).toBe(910);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  });

  it('prints any message it is built with', () => {
    const path = join(tmp, 'other');
    writeFileSync(path, helloElf('just this\n'), { mode: 0o755 });
    expect(execFileSync(path, { encoding: 'utf8' })).toBe('just this\n');
  });
});

describe('hello-world image', () => {
  it('is created on first use: one layer with /hello 0755, Cmd ["/hello"], correct digests', async () => {
    const store = await Store.open(join(tmp, 'store'));
    await expect(store.images()).resolves.toEqual([]);
    const img = await ensureBuiltin(store, 'hello-world');
    expect(img.repoTags).toEqual(['hello-world:latest']);
    for (const ref of ['hello-world:latest', 'docker.io/library/hello-world']) expect((await ensureBuiltin(store, ref)).id).toBe(img.id);
    expect(await store.images()).toHaveLength(1);

    const layer = await helloWorldLayer();
    expect(img.layers).toHaveLength(1);
    expect(img.layers[0]!.diffId).toBe(sha(layer));
    expect(img.layers[0]!.digest).toBe(sha(layer));
    const config = await store.config(img);
    expect(config.config?.Cmd).toEqual(['/hello']);
    expect(config.rootfs.diff_ids).toEqual([sha(layer)]);
    expect(sha(readFileSync(store.blobPath(img.id)))).toBe(img.id);
    const manifest = JSON.parse(readFileSync(store.blobPath(img.manifestDigest), 'utf8'));
    expect(manifest.config.digest).toBe(img.id);
    expect(manifest.layers[0].digest).toBe(sha(layer));

    const [dir] = store.layerDirs(img);
    expect(readdirSync(dir!)).toEqual(['hello']);
    // The layer has no entry for its root: the root is 0755, as docker makes it, so
    // a container's non-root user can still walk into /.
    expect(statSync(dir!).mode & 0o7777).toBe(0o755);
    const st = statSync(join(dir!, 'hello'));
    expect(st.mode & 0o7777).toBe(0o755);
    expect(st.uid).toBe(0);
    expect(execFileSync(join(dir!, 'hello'), { encoding: 'utf8' })).toBe(HELLO_MESSAGE);
  });

  it('is the same image on every build (fixed times, so a fixed ID)', async () => {
    const a = await ensureBuiltin(await Store.open(join(tmp, 's1')), 'hello-world');
    const b = await ensureBuiltin(await Store.open(join(tmp, 's2')), 'hello-world');
    expect(a.id).toBe(b.id);
  });

  it('refuses names that are not built in', async () => {
    const store = await Store.open(join(tmp, 's3'));
    await expect(ensureBuiltin(store, 'ubuntu')).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
    await expect(ensureBuiltin(store, 'hello-world:v2')).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
    expect(await store.images()).toEqual([]);
  });
});
