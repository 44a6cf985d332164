/**
 * The store's commands end to end through bin/layerfs.js (run `npm run build`
 * first): load, images (table, --tree, json), inspect, history, tag, rmi,
 * save, import; --root and LAYERFS_ROOT; errors; two processes loading at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { HELLO_MESSAGE } from '../../src/store/hello-world.js';
import { hex, ociLayout, sha, tarOf, tarOfFiles } from './fixtures.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'layerfs-store-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(tmp, `${what}-${n++}`);

/** Runs layerfs with `input` on its stdin (empty by default: `load` without -i reads it). */
async function layerfs(args: string[], env: Record<string, string> = {}, input: string | Buffer = '') {
  try {
    const p = run(process.execPath, [LAYERFS_BIN, ...args], { env: { ...process.env, ...env } });
    p.child.stdin!.end(input);
    const r = await p;
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `--format json`: one object a line. */
const jsonLines = (out: string) => out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);

const base = await tarOf([{ name: 'bin/' }, { name: 'bin/sh', content: 'x'.repeat(1500), mode: 0o755 }]);
const web = await tarOf([{ name: 'srv/' }, { name: 'srv/index.html', content: '<h1>hi</h1>\n' }]);
const db = await tarOf([{ name: 'var/' }, { name: 'var/db', content: 'y'.repeat(2500) }]);

async function archive(): Promise<string> {
  const path = fresh('two') + '.tar';
  writeFileSync(
    path,
    await tarOfFiles(ociLayout([
      { layers: [base, web], tag: 'web:1', compression: 'gzip', created: '2021-01-01T00:00:00Z' },
      { layers: [base, db], tag: 'db:2', compression: 'zstd', created: '2022-01-01T00:00:00Z' },
    ])),
  );
  return path;
}

describe('layerfs store commands', () => {
  it('load, images, images --tree, inspect, history on two images sharing a base layer', async () => {
    const root = fresh('root');
    const load = await layerfs(['load', '-i', await archive(), '--root', root]);
    expect(load).toMatchObject({ code: 0, stdout: 'Loaded image: web:1\nLoaded image: db:2\n', stderr: '' });

    const images = await layerfs(['images', '--root', root]);
    const lines = images.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines[1]).toMatch(/^db\s+2\s+[0-9a-f]{12}\s+\d+ (months|years) ago\s+4kB$/);
    expect(lines[2]).toMatch(/^web\s+1\s+[0-9a-f]{12}\s+.* ago\s+1\.51kB$/);

    const tree = await layerfs(['images', '--tree', '--root', root]);
    const b = hex(sha(base)).slice(0, 12);
    expect(tree.stdout.split('\n')).toEqual([
      `└─${b} Virtual Size: 1.5kB`,
      expect.stringMatching(/^  ├─[0-9a-f]{12} Virtual Size: 1\.51kB Tags: web:1$/),
      expect.stringMatching(/^  └─[0-9a-f]{12} Virtual Size: 4kB Tags: db:2$/),
      '',
    ]);
    const json = JSON.parse((await layerfs(['images', '--tree', '--format', 'json', '--root', root])).stdout);
    expect(json).toHaveLength(1);
    expect(json[0].children.map((c: { images: Array<{ repoTags: string[] }> }) => c.images[0]!.repoTags)).toEqual([['web:1'], ['db:2']]);

    const [info] = JSON.parse((await layerfs(['inspect', 'web:1', '--root', root])).stdout);
    expect(info.RepoTags).toEqual(['web:1']);
    expect(info.RootFS.Layers).toEqual([sha(base), sha(web)]);
    expect(info.GraphDriver.Data.LowerDir).toBe([web, base].map((l) => join(root, 'layers', hex(sha(l)), 'diff')).join(':'));
    expect(readdirSync(info.GraphDriver.Data.LowerDir.split(':')[0])).toEqual(['srv']);

    const history = jsonLines((await layerfs(['history', 'db:2', '--format', 'json', '--root', root])).stdout);
    expect(history.map((h) => [h.CreatedBy, h.Size])).toEqual([['step 2', '2.5kB'], ['step 1', '1.5kB']]);
  });

  it('a progress bar with bytes and layers on a terminal (script(1) gives it one), none when piped', async () => {
    const root = fresh('root');
    const input = await archive();
    const { stdout } = await run('script', ['-qec', `${process.execPath} ${LAYERFS_BIN} load -i ${input} --root ${root}`, '/dev/null']);
    expect(stdout).toMatch(/loading \[=+\] 100% \| [\d.]+k?B\/[\d.]+k?B \| layers (\d)\/\1/);
    expect(stdout).toMatch(/Loaded image: web:1\r?\nLoaded image: db:2/);
    const piped = await layerfs(['load', '-i', input, '--root', fresh('root')]);
    expect(piped.stderr).toBe('');
  });

  it('tag, rmi (untag, then delete and collect), and unknown images', async () => {
    const root = fresh('root');
    await layerfs(['load', '-i', await archive(), '--root', root]);
    expect(await layerfs(['tag', 'web:1', 'web:latest', '--root', root])).toMatchObject({ code: 0 });
    expect((await layerfs(['rmi', 'web', '--root', root])).stdout).toBe('Untagged: web:latest\n');
    const rmi = await layerfs(['rmi', 'web:1', '--root', root]);
    expect(rmi.stdout).toMatch(new RegExp(`^Untagged: web:1\nDeleted: sha256:[0-9a-f]{64}\nDeleted: ${sha(web)}\n$`));
    expect(readdirSync(join(root, 'layers')).sort()).toEqual([hex(sha(base)), hex(sha(db))].sort());
    expect(await layerfs(['rmi', 'web:1', '--root', root])).toMatchObject({ code: 1, stderr: 'layerfs: no such image: web:1\n' });
  });

  it('save -o then load into another root (both formats); import; LAYERFS_ROOT', async () => {
    const root = fresh('root');
    await layerfs(['load', '--builtin', 'hello-world'], { LAYERFS_ROOT: root });
    for (const format of ['oci-archive', 'docker-archive']) {
      const out = fresh('saved') + '.tar';
      expect(await layerfs(['save', '-o', out, '--format', format, 'hello-world', '--root', root])).toMatchObject({ code: 0, stderr: '' });
      const other = fresh('root');
      expect((await layerfs(['load', '-i', out, '--root', other])).stdout).toBe('Loaded image: hello-world:latest\n');
      const [a] = JSON.parse((await layerfs(['inspect', 'hello-world', '--root', root])).stdout);
      const [b] = JSON.parse((await layerfs(['inspect', 'hello-world', '--root', other])).stdout);
      expect(b.Id).toBe(a.Id);
      const { stdout } = await run(join(b.GraphDriver.Data.LowerDir, 'hello'));
      expect(stdout).toBe(HELLO_MESSAGE);
    }
    const rootfs = fresh('rootfs') + '.tar';
    writeFileSync(rootfs, web);
    const imp = await layerfs(['import', rootfs, 'imported:1'], { LAYERFS_ROOT: root });
    expect(imp.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await layerfs(['images', '--format', 'json'], { LAYERFS_ROOT: root })).stdout).toContain('"Repository":"imported"');
  });

  it('bad input: a clear error naming the file, exit 1, nothing loaded', async () => {
    const root = fresh('root');
    const missing = await layerfs(['load', '-i', join(tmp, 'nope.tar'), '--root', root]);
    expect(missing).toMatchObject({ code: 1, stderr: `layerfs: ${join(tmp, 'nope.tar')}: no such file or directory\n` });
    const empty = await layerfs(['load', '--root', root]);
    expect(empty).toMatchObject({ code: 125, stderr: 'layerfs: load: stdin is empty; use -i FILE or redirect an archive (layerfs load < image.tar)\n' });
    const files = ociLayout([{ layers: [web], tag: 'x:1' }]);
    const blob = `blobs/sha256/${hex(sha(web))}`;
    files[blob] = base; // same name, other bytes
    const bad = fresh('bad') + '.tar';
    writeFileSync(bad, await tarOfFiles(files));
    const r = await layerfs(['load', '-i', bad, '--root', root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^layerfs: .*${blob} \\(blob\\): digest mismatch, expected ${sha(web)}, got ${sha(base)}\\n$`));
    expect((await layerfs(['images', '--format', 'json', '--root', root])).stdout).toBe('');
  });

  it('two processes loading images that share layers at the same time', async () => {
    const root = fresh('root');
    const a = fresh('a') + '.tar';
    const b = fresh('b') + '.tar';
    writeFileSync(a, await tarOfFiles(ociLayout([{ layers: [base, web], tag: 'a:1', compression: 'gzip' }])));
    writeFileSync(b, await tarOfFiles(ociLayout([{ layers: [base, db], tag: 'b:1' }])));
    const results = await Promise.all([a, b, a, b].map((f) => layerfs(['load', '-i', f, '--root', root])));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect(readdirSync(join(root, 'layers')).sort()).toEqual([base, web, db].map((l) => hex(sha(l))).sort());
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    const list = jsonLines((await layerfs(['images', '--format', 'json', '--root', root])).stdout);
    expect(list.map((i) => i.Repository).sort()).toEqual(['a', 'b']);
  });
});
