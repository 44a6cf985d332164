/**
 * `build` for real: steps run in layerfs containers and on layerfs mounts in
 * a throwaway store, on the busybox image the runtime tests build. The seed's
 * hello-world Dockerfile, a multi-step build with its cache, multi-stage,
 * .dockerignore and ADD, and the errors that must stop a build.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helloElf, HELLO_MESSAGE, loadBuiltin } from '../../src/store/hello-world.js';
import { BuildError, UnknownImageError } from '../../src/errors.js';
import { build, type BuildEvent } from '../../src/build/build.js';
import { addBusybox, busyboxConfig, CHANGES, runCaptured, tempRoot, type TempRoot } from '../runtime/helpers/busybox.js';
import { tarOf } from '../store/fixtures.js';
import { push } from '../../src/registry/push.js';
import { RegistryConfig } from '../../src/registry/registry-config.js';
import { StoreTarget } from '../../src/registry/store-adapter.js';
import { TestRegistry } from '../registry/helpers/registry-server.js';
import { buildCaptured, layerEntries, stepLines, tryBuild, writeContext, type ContextFiles } from './helpers.js';

let t: TempRoot;
const contexts: string[] = [];
const context = (files: ContextFiles) => {
  const dir = writeContext(files);
  contexts.push(dir);
  return dir;
};

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store);
});

afterAll(async () => {
  for (const c of contexts) rmSync(c, { recursive: true, force: true });
  expect(await t.cleanup()).toEqual([]);
});

const HELLO_DOCKERFILE = 'FROM scratch\nCOPY hello /\nCMD ["/hello"]\n';

describe('the seed hello-world Dockerfile', () => {
  it('builds the layer `load --builtin hello-world` has, and runs to the seed text', async () => {
    const ctx = context({ Dockerfile: HELLO_DOCKERFILE, hello: { content: helloElf(), mode: 0o755, mtime: new Date('2015-06-01T00:00:00Z') } });
    const res = await buildCaptured(t.root, { context: ctx, tags: ['hello:built'] });
    expect(stepLines(res.events)).toEqual(['Step 1/3 : FROM scratch', 'Step 2/3 : COPY hello /', 'Step 3/3 : CMD ["/hello"]']);
    const built = await t.store.resolve('hello:built');
    const builtin = await loadBuiltin(t.store, 'hello-world');
    expect(built.layers.map((l) => l.diffId)).toEqual(builtin.layers.map((l) => l.diffId));
    const config = await t.store.config(built);
    expect(config.config?.Cmd).toEqual(['/hello']);
    expect(config.history?.map((h) => h.empty_layer ?? false)).toEqual([false, true]);
    const ran = await runCaptured(t.root, { image: 'hello:built', remove: true, mounter: 'layerfs' });
    expect(ran.exitCode).toBe(0);
    expect(ran.out).toBe(HELLO_MESSAGE);
  });
});

describe('a multi-step build on busybox', () => {
  const dockerfile = [
    'FROM busybox:test',
    'ARG GREETING=hello',
    'ENV APP_HOME=/app MODE="demo mode"',
    'COPY app.conf $APP_HOME/',
    'COPY --chown=1000:1000 data/ ${APP_HOME}/data/',
    `RUN ${CHANGES} && echo "$GREETING from RUN: $(cat /app/app.conf)"`,
    'WORKDIR $APP_HOME',
    'USER app',
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'CMD ["echo running as $(id -u) in $(pwd) with $MODE; ls /app /app/data"]',
  ].join('\n');
  let ctx: string;
  let first: Awaited<ReturnType<typeof buildCaptured>>;

  beforeAll(async () => {
    ctx = context({ Dockerfile: dockerfile, 'app.conf': 'conf v1\n', 'data/x': 'x1\n', 'data/y': 'y1\n' });
    first = await buildCaptured(t.root, { context: ctx, tags: ['demo:test'] });
  }, 60_000);

  it('runs each step, streams the RUN output and records the config', async () => {
    expect(first.events.filter((e) => e.kind === 'cache')).toEqual([]);
    expect(first.events.filter((e) => e.kind === 'running')).toHaveLength(1);
    expect(first.out).toBe('hello from RUN: conf v1\n');
    const img = await t.store.resolve('demo:test');
    const config = await t.store.config(img);
    expect(config.config).toMatchObject({
      Env: ['PATH=/bin', 'FROM_IMAGE=yes', 'APP_HOME=/app', 'MODE=demo mode'],
      WorkingDir: '/app', User: 'app', Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo running as $(id -u) in $(pwd) with $MODE; ls /app /app/data'],
    });
    // busybox + COPY + COPY + RUN; ARG, ENV, WORKDIR, USER, ENTRYPOINT and CMD are empty layers.
    expect(img.layers).toHaveLength(4);
    expect(config.history?.filter((h) => h.empty_layer).length).toBe(6);
    expect(config.history?.find((h) => h.created_by?.includes('echo "$GREETING'))?.created_by).toMatch(/^\|1 GREETING=hello \/bin\/sh -c echo new/);
  });

  it('writes the RUN layer in the OCI form: whiteouts, an opaque dir, no /etc files of the runtime', async () => {
    const img = await t.store.resolve('demo:test');
    const names = (await layerEntries(t.store, img.layers[3]!)).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['etc/.wh.motd', 'lib/data/.wh..wh..opq', 'lib/data/c', 'srv/new', 'srv/notes', 'newdir/sub/link']));
    expect(names.filter((n) => /^etc\/(hosts|hostname|resolv\.conf)$/.test(n))).toEqual([]);
    const copied = await layerEntries(t.store, img.layers[2]!);
    expect(copied.filter((e) => e.type === 'file').map((e) => [e.name, e.uid, e.gid])).toEqual([['app/data/x', 1000, 1000], ['app/data/y', 1000, 1000]]);
  });

  it('runs as the image says', async () => {
    const ran = await runCaptured(t.root, { image: 'demo:test', remove: true, mounter: 'layerfs' });
    expect(ran.out).toBe('running as 1000 in /app with demo mode\n/app:\napp.conf\ndata\n\n/app/data:\nx\ny\n');
  });

  it('builds again from the cache alone, in a fraction of the time', async () => {
    const again = await buildCaptured(t.root, { context: ctx, tags: ['demo:test'] });
    expect(again.events.filter((e) => e.kind === 'cache')).toHaveLength(9);
    expect(again.out).toBe('');
    expect(again.id).toBe(first.id);
    expect(again.ms).toBeLessThan(first.ms / 2);
  });

  it('rebuilds from the step whose copied file changed', async () => {
    writeFileSync(join(ctx, 'data/y'), 'y2\n');
    const changed = await buildCaptured(t.root, { context: ctx, tags: ['demo:test'] });
    expect(stepLines(changed.events).slice(1)).toEqual([
      'Step 2/10 : ARG GREETING=hello', ' ---> Using cache',
      'Step 3/10 : ENV APP_HOME=/app MODE="demo mode"', ' ---> Using cache',
      'Step 4/10 : COPY app.conf $APP_HOME/', ' ---> Using cache',
      'Step 5/10 : COPY --chown=1000:1000 data/ ${APP_HOME}/data/',
      `Step 6/10 : RUN ${CHANGES} && echo "$GREETING from RUN: $(cat /app/app.conf)"`,
      'Step 7/10 : WORKDIR $APP_HOME', 'Step 8/10 : USER app', 'Step 9/10 : ENTRYPOINT ["/bin/sh", "-c"]',
      'Step 10/10 : CMD ["echo running as $(id -u) in $(pwd) with $MODE; ls /app /app/data"]',
    ]);
    expect(changed.id).not.toBe(first.id);
    const noCache = await buildCaptured(t.root, { context: ctx, noCache: true });
    expect(noCache.events.filter((e) => e.kind === 'cache')).toEqual([]);
  }, 60_000);
});

describe('multi-stage', () => {
  const dockerfile = [
    'FROM busybox:test AS builder',
    'RUN mkdir /out && echo built > /out/artifact && echo junk > /out/junk',
    'FROM scratch',
    'COPY --from=builder /out/artifact /artifact',
    'COPY --from=0 /etc/passwd /etc/',
  ].join('\n');

  it('keeps only what COPY --from took', async () => {
    const ctx = context({ Dockerfile: dockerfile });
    const res = await buildCaptured(t.root, { context: ctx, tags: ['stages:final'] });
    const img = await t.store.resolve('stages:final');
    expect(img.id).toBe(res.id);
    expect(img.layers).toHaveLength(2);
    expect((await layerEntries(t.store, img.layers[0]!)).map((e) => [e.name, e.size])).toEqual([['artifact', 6]]);
    expect((await layerEntries(t.store, img.layers[1]!)).map((e) => e.name)).toEqual(['etc/', 'etc/passwd']);
    const owners = await buildCaptured(t.root, { context: context({ Dockerfile: 'FROM scratch\nCOPY --from=busybox:test /home /h/\nCOPY --from=busybox:test --chown=7:7 /home /c/\n' }) });
    const ownersImg = await t.store.resolve(owners.id);
    // Without --chown, COPY --from keeps the owners the image has (Docker's preserveOwnership).
    expect((await layerEntries(t.store, ownersImg.layers[0]!)).map((e) => [e.name, e.uid, e.gid])).toEqual([['h/', 0, 0], ['h/app/', 1000, 1000]]);
    expect((await layerEntries(t.store, ownersImg.layers[1]!)).map((e) => [e.name, e.uid, e.gid])).toEqual([['c/', 7, 7], ['c/app/', 7, 7]]);
    const copied = (await t.store.config(ownersImg)).history?.slice(-2).map((h) => h.created_by?.replace(/[0-9a-f]{64}/, 'H'));
    expect(copied).toEqual(['/bin/sh -c #(nop) COPY dir:H in /h/ ', '/bin/sh -c #(nop) COPY --chown=7:7 dir:H in /c/ ']);
    const target = await buildCaptured(t.root, { context: ctx, target: 'builder', tags: ['stages:builder'] });
    expect(target.events.filter((e) => e.kind === 'cache')).toHaveLength(1);
    expect((await t.store.resolve('stages:builder')).layers).toHaveLength(2);
  }, 30_000);
});

describe('context rules', () => {
  it('.dockerignore and its exceptions, ADD of a local tar.gz, COPY of a glob', async () => {
    const tgz = gzipSync(await tarOf([{ name: 'pkg/' }, { name: 'pkg/readme', content: 'unpacked\n', uid: 7, gid: 8 }]));
    const ctx = context({
      Dockerfile: 'FROM scratch\nCOPY . /ctx/\nADD files.tgz /unpacked/\nCOPY --chmod=600 *.txt /txt/\n',
      '.dockerignore': '# logs stay home\n*.log\nlogs\n!logs/keep.log\nsecret\nfiles.tgz\n',
      'a.txt': 'a\n', 'b.txt': 'b\n', 'b.log': 'b\n', 'logs/x.log': 'x\n', 'logs/keep.log': 'keep\n', 'secret/key': 'k\n',
      'files.tgz': tgz,
    });
    // files.tgz is ignored for COPY . but ADD names it: Docker refuses that, and so do we.
    const refused = await tryBuild(t.root, { context: ctx });
    expect('error' in refused && refused.error.message).toMatch(/Dockerfile:3: ADD: files.tgz: not found in the build context or excluded by .dockerignore/);
    writeFileSync(join(ctx, '.dockerignore'), '# logs stay home\n*.log\nlogs\n!logs/keep.log\nsecret\n');
    const res = await buildCaptured(t.root, { context: ctx });
    const img = await t.store.resolve(res.id);
    const copied = (await layerEntries(t.store, img.layers[0]!)).map((e) => e.name);
    expect(copied).toEqual(['ctx/', 'ctx/.dockerignore', 'ctx/Dockerfile', 'ctx/a.txt', 'ctx/b.txt', 'ctx/files.tgz', 'ctx/logs/', 'ctx/logs/keep.log']);
    const added = await layerEntries(t.store, img.layers[1]!);
    expect(added.map((e) => [e.name, e.uid, e.gid])).toEqual([['unpacked/', 0, 0], ['unpacked/pkg/', 0, 0], ['unpacked/pkg/readme', 7, 8]]);
    const globbed = await layerEntries(t.store, img.layers[2]!);
    expect(globbed.map((e) => [e.name, e.mode.toString(8)])).toEqual([['txt/', '755'], ['txt/a.txt', '600'], ['txt/b.txt', '600']]);
  });
});

describe('archives and hard links, as Docker keeps them', () => {
  it('ADD unpacks bzip2 and xz tars; hard links stay links within a COPY or an ADD', async () => {
    const plain = await tarOf([
      { name: 'pkg/' }, { name: 'pkg/f', content: 'one inode\n', uid: 7, gid: 8 },
      { name: 'pkg/hl', type: 'link', linkname: 'pkg/f' },
    ]);
    const ctx = context({ Dockerfile: 'FROM scratch\nADD p.tar.bz2 /b/\nADD p.tar.xz /x/\nCOPY tree /t/\n', 'tree/f': 'same\n', 'p.tar': plain });
    execFileSync('sh', ['-c', 'bzip2 -c p.tar > p.tar.bz2 && xz -c p.tar > p.tar.xz && ln tree/f tree/hl'], { cwd: ctx });
    const res = await buildCaptured(t.root, { context: ctx });
    const img = await t.store.resolve(res.id);
    const entries = await Promise.all(img.layers.map((l) => layerEntries(t.store, l)));
    const show = (items: Awaited<ReturnType<typeof layerEntries>>) => items.map((e) => [e.name, e.type, e.linkname ?? e.uid]);
    expect(show(entries[0]!)).toEqual([['b/', 'directory', 0], ['b/pkg/', 'directory', 0], ['b/pkg/f', 'file', 7], ['b/pkg/hl', 'link', 'b/pkg/f']]);
    expect(show(entries[1]!)).toEqual([['x/', 'directory', 0], ['x/pkg/', 'directory', 0], ['x/pkg/f', 'file', 7], ['x/pkg/hl', 'link', 'x/pkg/f']]);
    expect(show(entries[2]!)).toEqual([['t/', 'directory', 0], ['t/f', 'file', 0], ['t/hl', 'link', 't/f']]);
  });
});

describe('ADD of a URL', () => {
  const served = new Map<string, { body: Buffer; modified?: string }>();
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const f = served.get(req.url ?? '');
      if (!f) return void res.writeHead(404).end('no');
      res.writeHead(200, f.modified ? { 'last-modified': f.modified } : {}).end(f.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    served.set('/files/p.tar', { body: await tarOf([{ name: 'inside', content: 'x' }]), modified: 'Wed, 21 Oct 2015 07:28:00 GMT' });
    served.set('/files/hello.txt', { body: Buffer.from('hello\n') });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads, names the file after the URL (or DEST), mode 0600, the Last-Modified time, never unpacked; the cache holds while the data does', async () => {
    const dockerfile = `FROM busybox:test\nADD ${base}/files/p.tar /opt/\nADD ${base}/files/hello.txt /opt/renamed\n`;
    const res = await buildCaptured(t.root, { context: context({ Dockerfile: dockerfile }), tags: ['added:test'] });
    const ran = await runCaptured(t.root, { image: 'added:test', command: ['sh', '-c', 'cd /opt && stat -c "%n %a %u %s" * && date -u -r p.tar +%F && cat renamed'], remove: true });
    expect(ran.out).toBe(`p.tar 600 0 ${served.get('/files/p.tar')!.body.length}\nrenamed 600 0 6\n2015-10-21\nhello\n`);
    const again = await buildCaptured(t.root, { context: context({ Dockerfile: dockerfile }) });
    expect(again.id).toBe(res.id);
    served.set('/files/hello.txt', { body: Buffer.from('changed\n') });
    const changed = await buildCaptured(t.root, { context: context({ Dockerfile: dockerfile }) });
    expect(changed.events.filter((e) => e.kind === 'cache')).toHaveLength(1);
  });

  it.each([
    { name: 'a missing file', line: (b: string) => `ADD ${b}/files/none /x`, error: /ADD http:\/\/127\.0\.0\.1:\d+\/files\/none: failed to GET with status 404 Not Found/ },
    { name: 'a wrong --checksum', line: (b: string) => `ADD --checksum=sha256:${'0'.repeat(64)} ${b}/files/p.tar /x`, error: /checksum mismatch: expected sha256:0{64}, got sha256:[0-9a-f]{64}/ },
    { name: 'COPY of a URL', line: (b: string) => `COPY ${b}/files/p.tar /x`, error: /COPY http:.*: COPY takes no URL \(ADD does\)/ },
    { name: 'a directory DEST and no name in the URL', line: (b: string) => `ADD ${b}/ /x/`, error: /cannot determine a filename from the URL/ },
  ])('$name fails the build', async ({ line, error }) => {
    const res = await tryBuild(t.root, { context: context({ Dockerfile: `FROM busybox:test\n${line(base)}\n` }) });
    expect('error' in res && res.error.message).toMatch(error);
  });
});

describe('RUN and its build args', () => {
  it('takes several ARGs on a line, records the args RUN saw sorted, passes the proxy args, prints "Running in" before the command runs', async () => {
    const ctx = context({ Dockerfile: 'ARG BASE=busybox:test\nFROM $BASE\nARG ZED=last ABC\nRUN echo first-output $http_proxy\n' });
    const outFile = join(ctx, 'out');
    const fd = openSync(outFile, 'w');
    const seenAtRunning: string[] = [];
    const warnings: string[] = [];
    const events: BuildEvent[] = [];
    try {
      const res = await build({
        root: t.root, context: ctx, buildArgs: { ABC: 'first', http_proxy: 'http://proxy:3128', ZZ: '1', YY: '2' }, stdout: fd, stderr: fd,
        onEvent: (e) => {
          events.push(e);
          if (e.kind === 'running') seenAtRunning.push(readFileSync(outFile, 'utf8'));
          if (e.kind === 'warning') warnings.push(e.message);
        },
      });
      const config = await t.store.config(await t.store.resolve(res.id));
      expect(config.history?.slice(-2).map((h) => h.created_by)).toEqual(['/bin/sh -c #(nop)  ARG ZED=last ABC', '|2 ABC=first ZED=last /bin/sh -c echo first-output $http_proxy']);
    } finally {
      closeSync(fd);
    }
    expect(seenAtRunning).toEqual(['']);
    // The ARG before FROM is a step of its own in Docker's count.
    expect(stepLines(events)).toEqual(['Step 1/4 : ARG BASE=busybox:test', 'Step 2/4 : FROM $BASE', 'Step 3/4 : ARG ZED=last ABC', 'Step 4/4 : RUN echo first-output $http_proxy']);
    // http_proxy is one of Docker's predefined args: RUN sees it, no ARG needed, and it is no unconsumed arg.
    expect(readFileSync(outFile, 'utf8')).toBe('first-output http://proxy:3128\n');
    expect(warnings).toEqual(['[Warning] One or more build-args [YY ZZ] were not consumed']);
  });
});

describe('errors', () => {
  const failing: Array<{ name: string; files: ContextFiles; error: RegExp; target?: string; tag?: string }> = [
    { name: 'a parse error, before anything runs', files: { Dockerfile: 'FROM busybox:test\nRUN echo should-not-run\nFOO bar\n' }, error: /Dockerfile:3: unknown instruction: FOO$/ },
    { name: 'COPY from outside the context', files: { Dockerfile: 'FROM busybox:test\nCOPY ../x /x\n' }, error: /Dockerfile:2: COPY: \.\.\/x: forbidden path outside the build context$/ },
    { name: 'COPY of a symlink that leads out', files: { Dockerfile: 'FROM busybox:test\nCOPY link /x\n', link: { symlink: '/etc/passwd' } }, error: /Dockerfile:2: COPY: link: forbidden path outside the build context \(a symlink to \/etc\/passwd\)$/ },
    { name: 'ADD of a URL with local sources too', files: { Dockerfile: 'FROM scratch\nADD https://example.com/x.tar a /\n', a: 'a' }, error: /Dockerfile:2: ADD https:\/\/example.com\/x.tar: URLs and local sources in one ADD are not supported/ },
    { name: 'several sources into a DEST without /', files: { Dockerfile: 'FROM scratch\nCOPY a b /dest\n', a: 'a', b: 'b' }, error: /Dockerfile:2: COPY of more than one source: the destination must be a directory and end with a \/: \/dest$/ },
    { name: 'a glob that matches nothing', files: { Dockerfile: 'FROM scratch\nCOPY *.none /dest/\n' }, error: /Dockerfile:2: COPY: no source files were specified: nothing in the build context matches \*\.none$/ },
    { name: 'an unknown --target', files: { Dockerfile: 'FROM scratch AS one\n' }, target: 'two', error: /^target stage "two" could not be found$/ },
    { name: 'a bad -t, before anything runs', files: { Dockerfile: 'FROM busybox:test\nRUN echo should-not-run\n' }, tag: 'Not:Lowercase', error: /^invalid reference 'Not:Lowercase'/ },
    { name: 'a bad EXPOSE', files: { Dockerfile: 'FROM busybox:test\nEXPOSE 80/tcp eighty\n' }, error: /Dockerfile:2: EXPOSE: invalid port 'eighty'/ },
  ];
  it.each(failing)('$name', async ({ files, error, target, tag }) => {
    const before = (await t.store.images()).length;
    const res = await tryBuild(t.root, { context: context(files), tags: ['broken:test', ...(tag ? [tag] : [])], ...(target ? { target } : {}) });
    expect('error' in res && res.error.message).toMatch(error);
    expect(res.out).toBe('');
    expect((await t.store.images()).length).toBe(before);
    await expect(t.store.resolve('broken:test')).rejects.toBeInstanceOf(UnknownImageError);
  });

  it.each([
    ['/nonexistent/context', 'unable to prepare context: path "/nonexistent/context" not found'],
    ['/etc/passwd', 'unable to prepare context: context must be a directory: /etc/passwd'],
  ])('a context %s that is no directory fails as docker says, even with -f', async (dir, message) => {
    const dockerfile = join(context({ Dockerfile: 'FROM busybox:test\n' }), 'Dockerfile');
    const res = await tryBuild(t.root, { context: dir, dockerfile });
    expect('error' in res && res.error.message).toBe(message);
  });

  it('a failing RUN stops the build with its exit code; nothing is tagged, no container is left', async () => {
    const ctx = context({ Dockerfile: 'FROM busybox:test\nENV A=1\nRUN echo about to fail && exit 3\nCMD ["never"]\n' });
    const res = await tryBuild(t.root, { context: ctx, tags: ['fails:test'] });
    if (!('error' in res)) throw new Error('the build succeeded');
    expect(res.error.message).toBe("The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
    expect(res.error.exitCode).toBe(3);
    expect(res.out).toBe('about to fail\n');
    expect(res.events.map((e) => e.kind)).toContain('removed');
    await expect(t.store.resolve('fails:test')).rejects.toBeInstanceOf(UnknownImageError);
    expect(existsSync(join(t.root, 'containers')) ? readdirSync(join(t.root, 'containers')) : []).toEqual([]);
    // The ENV step succeeded: it is in the cache.
    const again = await tryBuild(t.root, { context: ctx });
    expect(again.events.filter((e) => e.kind === 'cache')).toHaveLength(1);
  });
});

describe('history entries as Docker writes them', () => {
  it('CMD and ENTRYPOINT as Go %q, VOLUME and SHELL as %v, ENV, LABEL and EXPOSE as written; a cache hit needs the same config', async () => {
    const lines = [
      'ENV MODE="demo mode" PORTS="80/udp 443"', 'LABEL "com.x"="a b"', 'EXPOSE $PORTS', 'VOLUME ["/data", "/logs"]',
      'SHELL ["/bin/sh", "-ec"]', 'ENTRYPOINT ["/bin/sh", "-c"]', 'CMD ["echo \\"$MODE\\"", "x"]',
    ];
    const res = await buildCaptured(t.root, { context: context({ Dockerfile: `FROM busybox:test\n${lines.join('\n')}\n` }) });
    const config = await t.store.config(await t.store.resolve(res.id));
    expect(config.history?.slice(-lines.length).map((h) => h.created_by)).toEqual([
      '/bin/sh -c #(nop)  ENV MODE=demo mode PORTS=80/udp 443', '/bin/sh -c #(nop)  LABEL com.x=a b', '/bin/sh -c #(nop)  EXPOSE 80/udp 443',
      '/bin/sh -c #(nop)  VOLUME [/data /logs]', '/bin/sh -c #(nop)  SHELL [/bin/sh -ec]', '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c"]',
      '/bin/sh -c #(nop)  CMD ["echo \\"$MODE\\"" "x"]',
    ]);
    expect(config.config?.ExposedPorts).toEqual({ '80/udp': {}, '443/tcp': {} });
    // --label: a LABEL step per label, sorted, taken as given.
    const odd = 'a "b" $c \\d `e';
    for (const escape of ['', '# escape=`\n']) {
      const labelled = await buildCaptured(t.root, { context: context({ Dockerfile: `${escape}FROM busybox:test\nLABEL z=0\n` }), labels: { z: '1', 'org.x': odd } });
      expect(stepLines(labelled.events).filter((l) => l.startsWith('Step')).slice(-2)).toEqual([`Step 3/4 : LABEL org.x=${odd}`, 'Step 4/4 : LABEL z=1']);
      expect((await t.store.config(await t.store.resolve(labelled.id))).config?.Labels).toEqual({ z: '1', 'org.x': odd });
    }
    // One variable or two: the same history text, not the same step.
    const one = await buildCaptured(t.root, { context: context({ Dockerfile: 'FROM busybox:test\nENV A="b c=d"\n' }) });
    const two = await buildCaptured(t.root, { context: context({ Dockerfile: 'FROM busybox:test\nENV A=b c=d\n' }) });
    expect(two.events.filter((e) => e.kind === 'cache')).toEqual([]);
    expect((await t.store.config(await t.store.resolve(two.id))).config?.Env?.slice(-2)).toEqual(['A=b', 'c=d']);
    expect(two.id).not.toBe(one.id);
  });
});

describe('a base image without PATH', () => {
  it('gets the default PATH, which ENV can extend and the built image keeps, as Docker does', async () => {
    await addBusybox(t.store, 'nopath:test', busyboxConfig({ Env: [] }));
    const ctx = context({ Dockerfile: 'FROM nopath:test\nENV PATH=/opt/bin:$PATH\nRUN echo "$PATH"\n' });
    const res = await buildCaptured(t.root, { context: ctx });
    expect(res.out).toBe('/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
    expect((await t.store.config(await t.store.resolve(res.id))).config?.Env).toEqual(['PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });
});

describe('ONBUILD', () => {
  it('records triggers, and a build FROM that image runs them first (they are not passed on)', async () => {
    const base = await buildCaptured(t.root, {
      context: context({ Dockerfile: 'FROM busybox:test\nONBUILD COPY a /from-trigger\nonbuild RUN echo "triggered: $(cat /from-trigger)"\n' }), tags: ['onbuild:base'],
    });
    const baseConfig = await t.store.config(await t.store.resolve(base.id));
    expect(baseConfig.config?.OnBuild).toEqual(['COPY a /from-trigger', 'RUN echo "triggered: $(cat /from-trigger)"']);
    expect(baseConfig.history?.at(-1)?.created_by).toBe('/bin/sh -c #(nop)  ONBUILD RUN echo "triggered: $(cat /from-trigger)"');
    const child = await buildCaptured(t.root, { context: context({ Dockerfile: 'FROM onbuild:base\nCMD ["cat", "/from-trigger"]\n', a: 'A\n' }) });
    expect(child.events.map((e) => e.kind).slice(0, 4)).toEqual(['step', 'triggers', 'running', 'removed']);
    expect(child.events[1]).toEqual({ kind: 'triggers', count: 2 });
    expect(child.out).toBe('triggered: A\n');
    const img = await t.store.resolve(child.id);
    expect(img.layers).toHaveLength(3);
    expect((await t.store.config(img)).config?.OnBuild).toBeUndefined();
  });
});

describe('a RUN whose container cannot start', () => {
  it('fails the build and leaves no container behind (USER names no one in /etc/passwd)', async () => {
    const ctx = context({ Dockerfile: 'FROM busybox:test\nUSER nosuch\nRUN true\n' });
    const res = await tryBuild(t.root, { context: ctx, tags: ['nouser:test'] });
    expect('error' in res && res.error.message).toMatch(/unable to find user nosuch/);
    expect(existsSync(join(t.root, 'containers')) ? readdirSync(join(t.root, 'containers')) : []).toEqual([]);
    await expect(t.store.resolve('nouser:test')).rejects.toBeInstanceOf(UnknownImageError);
  });
});

describe('an interrupt', () => {
  it('stops a running RUN step, fails the build with 130 and leaves no container', async () => {
    const ctx = context({ Dockerfile: 'FROM busybox:test\nRUN echo started && sleep 60\n' });
    const events: string[] = [];
    const t0 = performance.now();
    const devNull = openSync('/dev/null', 'w');
    const err = await build({
      root: t.root, context: ctx, tags: ['interrupted:test'], forwardSignals: true, stdout: devNull, stderr: devNull,
      onEvent: (e) => {
        events.push(e.kind);
        if (e.kind === 'running') setTimeout(() => process.kill(process.pid, 'SIGINT'), 300);
      },
    }).catch((e: unknown) => e as BuildError).finally(() => closeSync(devNull));
    expect(err).toBeInstanceOf(BuildError);
    expect((err as BuildError).exitCode).toBe(130);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(events).toContain('removed');
    expect(existsSync(join(t.root, 'containers')) ? readdirSync(join(t.root, 'containers')) : []).toEqual([]);
    await expect(t.store.resolve('interrupted:test')).rejects.toBeInstanceOf(UnknownImageError);
  });
});

describe('FROM an image the store does not have', () => {
  let reg: TestRegistry | undefined;
  afterAll(async () => {
    await reg?.stop();
  });

  it('pulls it from its registry', async () => {
    reg = await TestRegistry.start();
    const config = await RegistryConfig.load(join(t.root, 'registry-config.json'));
    const ref = `${reg.host}/lib/busybox:test`;
    await push('busybox:test', ref, { source: new StoreTarget(t.store), insecure: true, config });
    const fresh = await tempRoot();
    try {
      const ctx = context({ Dockerfile: `FROM ${ref}\nRUN echo pulled > /pulled\n` });
      const res = await buildCaptured(fresh.root, { context: ctx, tags: ['on-pulled:test'], registry: { insecure: true, config } });
      expect(res.events.filter((e) => e.kind === 'pull')).toEqual([{ kind: 'pull', ref }]);
      const base = await fresh.store.resolve(ref);
      expect((await fresh.store.resolve('on-pulled:test')).layers.slice(0, 1)).toEqual(base.layers);
      expect(base.layers.map((l) => l.diffId)).toEqual((await t.store.resolve('busybox:test')).layers.map((l) => l.diffId));
    } finally {
      expect(await fresh.cleanup()).toEqual([]);
    }
  }, 30_000);
});
