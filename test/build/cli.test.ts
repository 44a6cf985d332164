/**
 * `layerfs build`, `import --change` and `commit --change` through the built
 * CLI (`npm run build` first): Docker's classic builder output, -q, exit
 * codes, `images --tree` with a build as a branch under its base.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { helloElf, HELLO_MESSAGE } from '../../src/store/hello-world.js';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { addBusybox, busyboxEntries, tempRoot, layerfsCli, type CliResult, type TempRoot } from '../runtime/helpers/busybox.js';
import { tarOf } from '../store/fixtures.js';
import { writeContext } from './helpers.js';

let t: TempRoot;
const dirs: string[] = [];

type Ran = CliResult;
const layerfs = (...args: string[]): Promise<Ran> => layerfsCli(t.root, args);

/** `layerfs ARGS` with `input` on its stdin. */
function layerfsStdin(input: Buffer | string, ...args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAYERFS_BIN, ...args], { env: { ...process.env, LAYERFS_ROOT: t.root } });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(input);
  });
}

const ctx = (files: Parameters<typeof writeContext>[0]) => {
  const d = writeContext(files);
  dirs.push(d);
  return d;
};
const ids = (out: string) => out.replace(/[0-9a-f]{12}/g, 'ID');

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store);
});

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  expect(await t.cleanup()).toEqual([]);
});

it('the seed hello-world: build, then run, in the classic builder layout', async () => {
  const dir = ctx({ Dockerfile: 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n', hello: { content: helloElf(), mode: 0o755 } });
  const built = await layerfs('build', '-t', 'hello', dir);
  expect(built.code).toBe(0);
  expect(ids(built.out)).toBe([
    'Step 1/3 : FROM scratch', ' ---> ', 'Step 2/3 : COPY hello /', ' ---> ID', 'Step 3/3 : CMD ["/hello"]', ' ---> ID',
    'Successfully built ID', 'Successfully tagged hello:latest', '',
  ].join('\n'));
  expect((await layerfs('run', '--rm', 'hello')).out).toBe(HELLO_MESSAGE);
  const iidfile = join(dir, 'iid');
  const again = await layerfs('build', '-q', '--iidfile', iidfile, '-t', 'hello', dir);
  expect(again.out).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  expect(readFileSync(iidfile, 'utf8')).toBe(again.out.trim());
  expect(again.out.slice(7, 19)).toBe(/Successfully built ([0-9a-f]{12})/.exec(built.out)![1]);
});

it('RUN output, cache hits, and the build as a branch under busybox in images --tree', async () => {
  const dir = ctx({ Dockerfile: 'FROM busybox:test\nCOPY a /a\nRUN echo from-run && cat /a > /b\n', a: 'A\n' });
  const first = await layerfs('build', '-t', 'tree:test', dir);
  expect(ids(first.out)).toBe([
    'Step 1/3 : FROM busybox:test', ' ---> ID', 'Step 2/3 : COPY a /a', ' ---> ID',
    'Step 3/3 : RUN echo from-run && cat /a > /b', ' ---> Running in ID', 'from-run', 'Removing intermediate container ID', ' ---> ID',
    'Successfully built ID', 'Successfully tagged tree:test', '',
  ].join('\n'));
  const second = await layerfs('build', '-t', 'tree:test', dir);
  expect(second.out.match(/ ---> Using cache/g)).toHaveLength(2);
  expect(second.out).not.toContain('\nfrom-run\n');
  const tree = (await layerfs('images', '--tree')).out;
  // busybox's node, then the COPY layer one level down, then the RUN layer (the built image) below it.
  const lines = tree.split('\n');
  const at = lines.findIndex((l) => l.includes('busybox:test'));
  const depth = (l: string) => l.search(/[├└]─/);
  expect(lines.slice(at, at + 3).map((l) => [depth(l) - depth(lines[at]!), l.replace(/^.*?─[0-9a-f]{12} Virtual Size: \S+/, '')])).toEqual([
    [0, ' Tags: busybox:test'], [2, ''], [4, ' Tags: tree:test'],
  ]);
  expect((await layerfs('images')).out).not.toContain('<none>');
  const all = (await layerfs('images', '-a', '-q', '--no-trunc')).out;
  const intermediate = / ---> ([0-9a-f]{12})\nStep 3\/3/.exec(first.out)![1]!; // the COPY step's image
  expect(all).toContain(intermediate);
  // An image another was built on: by its ID refused, even forced; by a tag only untagged (docker's).
  for (const force of [[], ['-f']]) {
    expect(await layerfs('rmi', ...force, intermediate)).toMatchObject({ code: 1, err: `layerfs: conflict: unable to delete ${intermediate} (cannot be forced) - image has dependent child images\n` });
  }
  expect(await layerfs('tag', intermediate, 'mid:test')).toMatchObject({ code: 0 });
  expect(await layerfs('rmi', 'mid:test')).toMatchObject({ code: 0, out: 'Untagged: mid:test\n' });
  expect((await layerfs('images', '-a', '-q', '--no-trunc')).out).toContain(intermediate);
  // rmi takes the intermediate image with the last one built on it, and leaves the base.
  const removed = await layerfs('rmi', 'tree:test');
  expect(removed.out).toMatch(new RegExp(`Deleted: sha256:${intermediate}`));
  expect((await layerfs('images', '-a', '-q', '--no-trunc')).out).not.toContain(intermediate);
  expect((await layerfs('images', 'busybox')).out).toContain('busybox');
});

it('--pull asks the registry for a FROM image the store has; --platform takes only this machine\'s', async () => {
  const dir = ctx({ Dockerfile: 'FROM 127.0.0.1:1/busybox:test\n' });
  expect(await layerfs('tag', 'busybox:test', '127.0.0.1:1/busybox:test')).toMatchObject({ code: 0 });
  expect(await layerfs('build', '--platform', 'linux/amd64', '-q', dir)).toMatchObject({ code: 0 });
  const pulled = await layerfs('build', '--pull', dir);
  expect(pulled.code).toBe(1);
  expect(pulled.err).toMatch(/127\.0\.0\.1:1\/busybox:test: not in the store, and pulling it failed: .*ECONNREFUSED/);
  expect(await layerfs('build', '--platform', 'linux/arm64', dir)).toMatchObject({ code: 125, err: 'layerfs: platform linux/arm64 cannot run on this linux/amd64 machine (there is no emulation)\n' });
  expect(await layerfs('run', '--rm', '--platform', 'linux/arm64', 'busybox:test', 'true')).toMatchObject({ code: 125, err: 'layerfs: platform linux/arm64 cannot run on this linux/amd64 machine (there is no emulation)\n' });
  expect(await layerfs('rmi', '127.0.0.1:1/busybox:test')).toMatchObject({ code: 0 });
});

it.each([
  { files: { Dockerfile: 'FROM busybox:test\nRUN exit 7\n' }, code: 7, err: "layerfs: The command '/bin/sh -c exit 7' returned a non-zero code: 7\n" },
  { files: { Dockerfile: 'FROM busybox:test\n\nCOPY\n' }, code: 1, err: 'Dockerfile:3: COPY needs at least one source and a destination\n' },
])('fails with $code: $err', async ({ files, code, err }) => {
  const dir = ctx(files);
  const res = await layerfs('build', '-t', 'no:tag', dir);
  expect(res.code).toBe(code);
  expect(res.err.endsWith(err)).toBe(true);
  expect(res.err.split('\n').filter(Boolean)).toHaveLength(1);
  expect((await layerfs('images', 'no')).out.split('\n').filter(Boolean)).toHaveLength(1);
});

it("streams RUN's stderr with the build output on stdout, as docker build does", async () => {
  const res = await layerfs('build', ctx({ Dockerfile: 'FROM busybox:test\nRUN echo to-out && echo to-err >&2\n' }));
  expect(res.code).toBe(0);
  expect(res.out).toContain('\nto-out\nto-err\nRemoving intermediate container');
  expect(res.err).toBe('');
});

it('reads the Dockerfile from stdin (-f -), or the whole context: a tar, or a lone Dockerfile with an empty context', async () => {
  const dir = ctx({ a: 'from the context\n' });
  const dockerfile = 'FROM busybox:test\nCOPY a /a\nCMD ["cat", "/a"]\n';
  const viaFile = await layerfsStdin(dockerfile, 'build', '-q', '-f', '-', '-t', 'stdin:file', dir);
  expect(viaFile.code).toBe(0);
  expect((await layerfs('run', '--rm', 'stdin:file')).out).toBe('from the context\n');
  const tar = execFileSync('tar', ['-cz', '-f', '-', '-C', dir, 'a', '-C', ctx({ 'Dockerfile.ci': dockerfile }), 'Dockerfile.ci']);
  const viaTar = await layerfsStdin(tar, 'build', '-f', 'Dockerfile.ci', '-t', 'stdin:tar', '-');
  expect(viaTar.code).toBe(0);
  expect(viaTar.out).toContain(' ---> Using cache');
  expect((await layerfs('images', '-q', '--no-trunc', 'stdin:tar')).out).toBe((await layerfs('images', '-q', '--no-trunc', 'stdin:file')).out);
  const lone = await layerfsStdin(dockerfile, 'build', '-');
  expect(lone.code).toBe(1);
  expect(lone.err).toBe('layerfs: Dockerfile:2: COPY: a: not found in the build context\n');
  expect((await layerfsStdin('', 'build', '-f', '-', '-')).err).toMatch(/cannot use stdin for both/);
});

it('import and commit take --change', async () => {
  const rootfs = join(t.root, 'rootfs.tar');
  writeFileSync(rootfs, await tarOf(busyboxEntries()));
  const bare = await layerfs('import', rootfs, 'bare');
  expect(bare.code).toBe(0);
  expect((await layerfs('run', '--rm', 'bare')).err).toContain('no command specified');
  const imported = await layerfs('import', '--change', 'ENV PATH=/bin GREETING=hi', '-c', 'CMD ["sh", "-c", "echo $GREETING"]', rootfs, 'changed');
  expect(imported.code).toBe(0);
  expect((await layerfs('run', '--rm', 'changed')).out).toBe('hi\n');
  expect((await layerfs('import', '--change', 'RUN true', rootfs, 'refused')).err).toBe(
    'layerfs: --change:1: RUN cannot be a --change (allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)\n',
  );

  expect((await layerfs('run', '--name', 'tochange', 'changed', 'touch', '/made')).code).toBe(0);
  const committed = await layerfs('commit', '-c', 'WORKDIR /srv', '--change', 'CMD ["pwd"]', 'tochange', 'committed');
  expect(committed.code).toBe(0);
  expect((await layerfs('run', '--rm', 'committed')).out).toBe('/srv\n');
  await layerfs('rm', 'tochange');
});
