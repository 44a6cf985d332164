/**
 * The CLI answers as docker's does, through the built bin/layerfs.js (run
 * `npm run build` first): --format (json lines, templates, tables) on every
 * listing, one-line errors with docker's exit codes, stdin for import and
 * load, umount of what is no mount, and a user who is not root. Each row is
 * an input that used to give a stack trace, a raw errno or the wrong shape.
 */
import { execFile, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { addBusybox, tempRoot, type TempRoot } from '../runtime/helpers/busybox.js';
import { hex, sha, tarOf } from '../store/fixtures.js';

const execFileP = promisify(execFile);
let t: TempRoot;

interface Ran { code: number; out: string; err: string }

/** Runs layerfs on the test's store; `input` is its stdin; `as` runs it as another user (setpriv). */
async function layerfs(args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; as?: number } = {}): Promise<Ran> {
  const argv = [process.execPath, LAYERFS_BIN, ...args];
  const [file, ...rest] = opts.as === undefined ? argv : ['setpriv', `--reuid=${opts.as}`, `--regid=${opts.as}`, '--clear-groups', ...argv];
  const p = execFileP(file!, rest, { env: { ...process.env, LAYERFS_ROOT: t.root, ...opts.env } });
  p.child.stdin!.end(opts.input ?? '');
  try {
    const r = await p;
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

const jsonLines = (out: string) => out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
/** A user error: one line on stderr, no stack trace. */
const oneLine = (r: Ran) => expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);

/** Every file under `dir` with its size and mtime: a refused command must leave the store as it was. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((d) => {
    const p = join(d.parentPath, d.name);
    const st = statSync(p);
    return `${p} ${st.size} ${st.mtimeMs} ${d.isFile() ? readFileSync(p).toString('base64') : ''}`;
  }).sort();
}

beforeAll(async () => {
  t = await tempRoot();
  await addBusybox(t.store);
  const r = await layerfs(['run', '--name', 'c1', 'busybox:test', 'sh', '-c', 'echo x > /srv/new; rm /etc/motd']);
  expect(r.code).toBe(0);
});

afterAll(async () => {
  await layerfs(['rm', 'c1']);
  expect(await t.cleanup()).toEqual([]);
});

describe('--format on every listing', () => {
  it('images: templates, json lines with docker\'s keys, table headers, -q', async () => {
    expect((await layerfs(['images', '--format', '{{.Repository}}:{{.Tag}}'])).out).toBe('busybox:test\n');
    const [row] = jsonLines((await layerfs(['images', '--format', 'json'])).out);
    expect(Object.keys(row!)).toEqual(['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
    expect(row).toMatchObject({ Repository: 'busybox', Tag: 'test', Digest: '<none>', ID: expect.stringMatching(/^[0-9a-f]{12}$/) });
    const table = (await layerfs(['images', '--format', 'table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}'])).out.split('\n');
    expect(table.slice(0, 2)).toEqual(['REPOSITORY   TAG       DIGEST', 'busybox      test      <none>']);
    expect((await layerfs(['images', '-q'])).out).toMatch(/^[0-9a-f]{12}\n$/);
  });

  it('images REPOSITORY lists its tags, REPOSITORY:TAG only that one (as docker images java:8)', async () => {
    expect((await layerfs(['tag', 'busybox:test', 'busybox:other'])).code).toBe(0);
    try {
      const names = async (...args: string[]) => (await layerfs(['images', '--format', '{{.Repository}}:{{.Tag}}', ...args])).out;
      expect(await names('busybox')).toBe('busybox:other\nbusybox:test\n');
      expect(await names('busybox:test')).toBe('busybox:test\n');
      expect(await names('docker.io/library/busybox:other')).toBe('busybox:other\n');
      expect(await names('busybox:nope')).toBe('');
      // -q is docker's {{.ID}} per row: the ID once per tag.
      const ids = (await layerfs(['images', '-q'])).out;
      expect(ids).toMatch(/^([0-9a-f]{12})\n\1\n$/);
      expect((await layerfs(['images', '-q', 'busybox:test'])).out).toBe(ids.split('\n')[0] + '\n');
    } finally {
      await layerfs(['rmi', 'busybox:other']);
    }
  });

  it('images --filter: dangling, reference globs (tags picked too), before/since, label; a bad key is a usage error', async () => {
    const before = (await layerfs(['images', '-a', '-q'])).out;
    // Importing x:1 twice leaves the first one untagged: dangling, as docker's re-tag does.
    for (const content of ['one', 'two']) expect((await layerfs(['import', '-', 'x:1'], { input: await tarOf([{ name: 'f', content }]) })).code).toBe(0);
    try {
      const dangling = (await layerfs(['images', '-f', 'dangling=true', '-q'])).out;
      expect(dangling).toMatch(/^[0-9a-f]{12}\n$/);
      expect((await layerfs(['images', '-f', 'dangling=false', '--format', '{{.Repository}}:{{.Tag}}'])).out).toBe('x:1\nbusybox:test\n');
      expect((await layerfs(['images', '-f', 'reference=busy*', '--format', '{{.Repository}}:{{.Tag}}'])).out).toBe('busybox:test\n');
      expect((await layerfs(['images', '-f', 'reference=*:1', '--format', '{{.Repository}}:{{.Tag}}'])).out).toBe('x:1\n');
      expect((await layerfs(['images', '-f', 'since=busybox:test', '-f', 'dangling=false', '--format', '{{.Repository}}'])).out).toBe('x\n');
      expect((await layerfs(['images', '-f', 'before=x:1', '-f', 'dangling=false', '--format', '{{.Repository}}'])).out).toBe('busybox\n');
      expect((await layerfs(['images', '-f', 'label=nope', '-q'])).out).toBe('');
      const bad = await layerfs(['images', '-f', 'size=1']);
      expect(bad).toMatchObject({ code: 125, out: '' });
      oneLine(bad);
    } finally {
      await layerfs(['rmi', 'x:1']);
      for (const id of (await layerfs(['images', '-f', 'dangling=true', '-q', '--no-trunc'])).out.trim().split('\n').filter(Boolean)) await layerfs(['rmi', id]);
    }
    expect((await layerfs(['images', '-a', '-q'])).out).toBe(before);
  });

  it('history: a template (even plain text, as docker), json with docker\'s keys, -q', async () => {
    const history = await layerfs(['history', '--format', 'x', 'busybox:test']);
    expect(history.out).toMatch(/^(x\n)+$/);
    const rows = jsonLines((await layerfs(['history', '--format', 'json', 'busybox:test'])).out);
    expect(Object.keys(rows[0]!)).toEqual(['Comment', 'CreatedAt', 'CreatedBy', 'CreatedSince', 'ID', 'Size']);
    expect((await layerfs(['history', '-q', 'busybox:test'])).out.split('\n')[0]).toMatch(/^[0-9a-f]{12}$/);
    const raw = (await layerfs(['history', '--human=false', 'busybox:test'])).out.split('\n');
    expect(raw[0]).toMatch(/^IMAGE\s+CREATED AT\s+CREATED BY\s+SIZE\s+COMMENT$/);
    expect(raw[1]).toMatch(/^[0-9a-f]{12}\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s.*\s\d+\s/);
  });

  it('ps: json with docker\'s keys, templates, -q', async () => {
    const [c] = jsonLines((await layerfs(['ps', '-a', '--format', 'json'])).out);
    expect(Object.keys(c!)).toEqual([
      'Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status',
    ]);
    expect(c).toMatchObject({ Names: 'c1', Image: 'busybox:test', State: 'exited', Status: expect.stringMatching(/^Exited \(0\) .* ago$/) });
    expect((await layerfs(['ps', '-a', '--format', '{{.Names}} {{.State}}'])).out).toBe('c1 exited\n');
    expect((await layerfs(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Image}}'])).out).toBe('NAMES     IMAGE\nc1        busybox:test\n');
    expect((await layerfs(['ps', '-aq'])).out).toMatch(/^[0-9a-f]{12}\n$/);
    expect((await layerfs(['ps', '--format', 'json'])).out).toBe('');
    // SIZE is measured when asked for (-s, or a format using .Size): c1 wrote "x\n" to /srv/new.
    expect((await layerfs(['ps', '-a', '--format', '{{.Names}} {{.Size}}'])).out).toMatch(/^c1 2B \(virtual [\d.]+[kM]B\)\n$/);
    const sized = (await layerfs(['ps', '-a', '-s'])).out.split('\n');
    expect(sized[0]).toMatch(/NAMES {5}SIZE$/);
    expect(sized[1]).toMatch(/ c1 {8}2B \(virtual [\d.]+[kM]B\)$/);
  });

  it('diff: A/C/D lines by default, json, templates', async () => {
    const plain = (await layerfs(['diff', 'c1'])).out;
    expect(plain).toContain('A /srv/new\n');
    expect(plain).toContain('D /etc/motd\n');
    expect(jsonLines((await layerfs(['diff', 'c1', '--format', 'json'])).out)).toContainEqual({ Path: '/srv/new', Type: 'A' });
    expect((await layerfs(['diff', 'c1', '--format', '{{if eq .Type "D"}}{{.Path}}{{end}}'])).out).toContain('/etc/motd\n');
    expect((await layerfs(['diff', 'c1', '--format', 'table'])).out.split('\n')[0]).toBe('CHANGE TYPE   PATH');
  });

  it("inspect shows a container's limits and security options under docker's HostConfig names; ps its network and mounts", async () => {
    const run = await layerfs(['run', '--name', 'limited', '--network', 'none', '-v', `${t.root}:/data:ro`, '--memory', '64m', '--pids-limit', '50', '--cpus', '0.5', '--security-opt', 'no-new-privileges', 'busybox:test', 'true']);
    try {
      expect(run.code).toBe(0);
      // ps names its network and its bind mount's source (cut to 15 characters, as docker).
      expect((await layerfs(['ps', '-a', '--format', '{{.Names}} {{.Networks}} {{.Mounts}}'])).out).toBe(`limited none ${t.root.slice(0, 14)}…\nc1 bridge \n`);
      const shown = await layerfs(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{json .HostConfig.SecurityOpt}}', 'limited', 'c1']);
      expect(shown).toEqual({ code: 0, out: '67108864 134217728 500000000 50 ["no-new-privileges"]\n0 0 0 <no value> null\n', err: '' });
    } finally {
      await layerfs(['rm', 'limited']);
    }
  });

  it('inspect: an indented array by default, json on one line, templates', async () => {
    const full = await layerfs(['inspect', 'busybox:test']);
    expect(full.out).toMatch(/^\[\n {4}\{\n {8}"Id": "sha256:/);
    const id = (JSON.parse(full.out) as Array<{ Id: string }>)[0]!.Id;
    expect((await layerfs(['inspect', 'busybox:test', '--format', 'json'])).out).toBe(JSON.stringify(JSON.parse(full.out)) + '\n');
    expect((await layerfs(['inspect', '-f', '{{.Id}} {{json .RepoTags}} {{.Os}}', 'busybox:test'])).out).toBe(`${id} ["busybox:test"] linux\n`);
    // as docker: what is there is printed, then one line for each name that is not
    expect(await layerfs(['inspect', '-f', '{{.Id}}', 'busybox:test', 'nope', 'nope:2'])).toEqual({
      code: 1, out: `${id}\n`, err: 'layerfs: no such object: nope\nlayerfs: no such object: nope:2\n',
    });
  });

  it.each([
    [['images', '--format', '{{.Repository}}{{.Nope}}'], "layerfs: --format: template: at <.Nope>: can't evaluate field Nope (fields: Containers, CreatedAt, CreatedSince, Digest, ID, Repository, SharedSize, Size, Tag, UniqueSize, VirtualSize)\n"],
    [['ps', '-a', '--format', '{{.Nope}}'], expect.stringMatching(/^layerfs: --format: template: at <\.Nope>: can't evaluate field Nope \(fields: Command, /)],
    [['history', '--format', '{{if .ID}}', 'busybox:test'], 'layerfs: --format: template: unexpected EOF: {{if}} without {{end}}\n'],
    [['inspect', '--format', '{{.Config.Nope}}', 'busybox:test'], expect.stringMatching(/^layerfs: --format: template: at <\.Config\.Nope>: can't evaluate field Nope \(fields: .*Cmd/)],
    [['save', '--format', 'docker', 'busybox:test', '-o', '/dev/null'], "layerfs: unsupported --format 'docker': use one of oci-archive, docker-archive\n"],
  ])('%j: one line, exit 125', async (args, err) => {
    const r = await layerfs(args);
    expect(r).toMatchObject({ code: 125, out: '', err });
    oneLine(r);
  });
});

describe('errors: one line that names the thing and the reason', () => {
  it.each([
    [['run', '--bogus', 'busybox:test'], 125, "layerfs: unknown option '--bogus'\nSee 'layerfs run --help'.\n"],
    [['images', 'a', 'b'], 125, "layerfs: too many arguments for 'images'. Expected 1 argument but got 2.\nSee 'layerfs images --help'.\n"],
    [['nosuchcommand'], 125, "layerfs: unknown command 'nosuchcommand'\nSee 'layerfs --help'.\n"],
    [['push', '--compression', 'lz4', 'busybox:test'], 125, "layerfs: option '--compression <kind>' argument 'lz4' is invalid. Allowed choices are gzip, zstd, none.\nSee 'layerfs push --help'.\n"],
    [['import', '/nonexistent.tar', 'x:1'], 1, 'layerfs: /nonexistent.tar: no such file or directory\n'],
    [['import', '-', 'x:1'], 125, 'layerfs: import -: stdin is empty; pipe a tarball in (layerfs import - NAME < rootfs.tar)\n'],
    [['load'], 125, 'layerfs: load: stdin is empty; use -i FILE or redirect an archive (layerfs load < image.tar)\n'],
    [['umount', '/tmp'], 1, 'layerfs: not mounted: /tmp\n'],
    [['rmi', 'no-such:image'], 1, 'layerfs: no such image: no-such:image\n'],
  ])('%j → exit %i', async (args, code, err) => {
    const before = snapshot(t.root);
    expect(await layerfs(args)).toEqual({ code, out: '', err });
    expect(snapshot(t.root)).toEqual(before);
  });

  // `layerfs images | head -1`: the reader has gone before the first write.
  it.each([[['images']], [['history', 'busybox:test']], [['inspect', 'busybox:test']], [['ps', '-a', '--format', 'json']]])('%j into a closed pipe: no stack, 141 as SIGPIPE gives', async (args) => {
    const child = spawn(process.execPath, [LAYERFS_BIN, ...args], { env: { ...process.env, LAYERFS_ROOT: t.root }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect({ code, err }).toEqual({ code: 141, err: '' });
  });

  it('an error deep in the store is one line too; LAYERFS_DEBUG=1 shows the stack', async () => {
    const other = await tempRoot();
    try {
      // A damaged tags.json only warns now (the other images still list): a symlink loop fails for real.
      rmSync(join(other.root, 'tags.json'), { force: true });
      symlinkSync('tags.json', join(other.root, 'tags.json'));
      const r = await layerfs(['images'], { env: { LAYERFS_ROOT: other.root } });
      expect(r.code).toBe(1);
      oneLine(r);
      expect(r.err).not.toMatch(/\n\s+at /);
      const debug = await layerfs(['images'], { env: { LAYERFS_ROOT: other.root, LAYERFS_DEBUG: '1' } });
      expect(debug.err).toMatch(/\n\s+at /);
    } finally {
      await other.cleanup();
    }
  });
});

describe('stdin, directories, and users who are not root', () => {
  it('import - and import DIR make one-layer images; load reads an archive from stdin', async () => {
    const layer = await tarOf([{ name: 'etc/' }, { name: 'etc/motd', content: 'from stdin\n' }]);
    const fromStdin = await layerfs(['import', '-', 'stdin:1'], { input: layer });
    expect(fromStdin).toMatchObject({ code: 0, out: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) });
    const [inspected] = JSON.parse((await layerfs(['inspect', 'stdin:1'])).out) as Array<{ RootFS: { Layers: string[] } }>;
    expect(inspected!.RootFS.Layers).toEqual([sha(layer)]);
    expect(readFileSync(join(t.root, 'layers', hex(sha(layer)), 'diff/etc/motd'), 'utf8')).toBe('from stdin\n');

    const dir = join(t.root, '..', `${t.root.split('/').pop()}-dir`);
    mkdirSync(join(dir, 'srv'), { recursive: true });
    writeFileSync(join(dir, 'srv/page'), 'a directory\n');
    try {
      expect((await layerfs(['import', dir, 'dir:1'])).code).toBe(0);
      const [img] = JSON.parse((await layerfs(['inspect', 'dir:1'])).out) as Array<{ GraphDriver: { Data: { LowerDir: string } } }>;
      expect(readFileSync(join(img!.GraphDriver.Data.LowerDir, 'srv/page'), 'utf8')).toBe('a directory\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const archive = (await execFileP(process.execPath, [LAYERFS_BIN, 'save', 'stdin:1'], { env: { ...process.env, LAYERFS_ROOT: t.root }, encoding: 'buffer', maxBuffer: 1 << 26 })).stdout;
    const other = await tempRoot();
    try {
      expect(await layerfs(['load'], { input: archive, env: { LAYERFS_ROOT: other.root } })).toEqual({ code: 0, out: 'Loaded image: stdin:1\n', err: '' });
      expect(readdirSync(join(other.root, 'tmp'))).toEqual([]);
    } finally {
      await other.cleanup();
    }
  });

  it('a user who is not root: one line before anything is touched, and --root DIR they own works', async () => {
    const before = snapshot(t.root);
    const r = await layerfs(['images'], { as: 65534 });
    expect(r).toEqual({ code: 1, out: '', err: `layerfs needs root (or --root DIR you own): ${t.root} is not writable\n` });
    expect(snapshot(t.root)).toEqual(before);
    const own = mkdtempSync(join(tmpdir(), 'layerfs-nobody-'));
    try {
      chownSync(own, 65534, 65534);
      expect(await layerfs(['images', '--root', join(own, 'store'), '--format', 'json'], { as: 65534 })).toEqual({ code: 0, out: '', err: '' });
      expect(statSync(join(own, 'store', 'images')).uid).toBe(65534);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});
