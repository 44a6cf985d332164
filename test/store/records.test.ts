/**
 * Damaged records, one row per record type (tags.json, an image record, a
 * layer.json, a hold, a container's state.json, an image config): the error
 * names the file and the reason in one line, the other images and
 * containers still list and run, and `system check` reports what
 * `--repair` then fixes. Then `system df` and `system prune` as Docker's.
 * Through bin/layerfs.js (run `npm run build` first).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { Store } from '../../src/store/store.js';
import { createContainer, saveState } from '../../src/runtime/containers.js';
import { addBusybox } from '../runtime/helpers/busybox.js';
import { hex, storeState, tarOf } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-records-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(tmp, `${what}-${n++}`);

/** Runs the CLI with `input` on its stdin (then end of input). */
function layerfs(root: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return layerfsWith('', root, ...args);
}
function layerfsWith(input: string, root: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [LAYERFS_BIN, '--root', root, ...args]);
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c) => (stdout += c));
  p.stderr.on('data', (c) => (stderr += c));
  p.stdin.end(input);
  return new Promise((resolve) => p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

const CONFIG = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: [] } };

/** busybox:test (runnable), other:1 with a layer of its own, and two containers of busybox. */
async function fixture() {
  const store = await Store.open(fresh('store'));
  const busybox = await addBusybox(store);
  const other = await store.addImage({ config: { ...CONFIG, created: '2019-01-01T00:00:00Z' }, layers: [async () => Readable.from([await tarOf([{ name: 'o', content: 'o' }])])], tags: ['other:1'] });
  const ids = ['a', 'b'].map((c) => c.repeat(64));
  for (const [i, id] of ids.entries()) {
    await createContainer(store.root, { id, name: `c${i}`, image: 'busybox:test', imageId: busybox.id, layers: [], args: ['true'], mounter: 'kernel' });
    const s = JSON.parse(readFileSync(join(store.root, 'containers', id, 'state.json'), 'utf8'));
    await saveState(store.root, { ...s, status: 'exited', exitCode: 0 });
    await store.hold(id, busybox.id, `container c${i}`);
  }
  return { store, busybox, other, ids };
}

const oneLine = (text: string) => {
  expect(text.trim().split('\n')).toHaveLength(1);
  expect(text).not.toMatch(/^\s+at /m);
};

describe('a damaged record names its file and reason; the rest still works; system check repairs it', () => {
  it('tags.json truncated: images lists the images with a warning, a name lookup says which file, repair keeps the tags it still shows', async () => {
    const { store, busybox, other } = await fixture();
    const text = readFileSync(store.tagsFile, 'utf8');
    truncateSync(store.tagsFile, text.indexOf('other:1') + 4); // busybox:test's line survives, other:1's is torn
    const images = await layerfs(store.root, 'images');
    expect(images.code).toBe(0);
    expect(images.stderr).toMatch(new RegExp(`^layerfs: warning: ${store.tagsFile}: damaged record: not JSON \\(.*\\) \\(layerfs system check --repair\\)\n$`));
    expect(images.stdout).toMatch(/^busybox\s+test\s/m); // what the torn file still shows is read
    expect(images.stdout).toMatch(/^<none>\s+<none>\s/m);
    const r = await layerfs(store.root, 'inspect', 'other:1');
    expect(r.code).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toContain(`${store.tagsFile}: damaged record: not JSON`);
    expect((await layerfs(store.root, 'inspect', hex(other.id).slice(0, 12))).code).toBe(0); // by ID it still works
    expect(await layerfs(store.root, 'run', '--rm', '--network', 'none', 'busybox:test', 'echo', 'runs')).toMatchObject({ code: 0, stdout: 'runs\n' });
    const before = storeState(store.root);
    const tag = await layerfs(store.root, 'tag', 'busybox:test', 'new:1'); // a writer never overwrites it unseen
    oneLine(tag.stderr);
    expect(tag.stderr).toContain(`${store.tagsFile}: damaged record: not JSON`);
    expect(storeState(store.root)).toEqual(before);

    const check = await layerfs(store.root, 'system', 'check');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`${store.tagsFile}: not JSON`);
    const repair = await layerfs(store.root, 'system', 'check', '--repair');
    expect(repair.stdout).toContain('rewrite it with the 1 tag(s) it still shows');
    expect(await store.readTags()).toEqual({ 'busybox:test': busybox.id });
    expect((await layerfs(store.root, 'system', 'check')).stdout).toBe('No problems found\n');
  });

  it('images/<id>.json with garbage: the other images list and run; its tag names the file; repair removes it and its layers', async () => {
    const { store, busybox, other } = await fixture();
    // JSON.parse quotes the text it choked on: its newline and terminal escape must not reach the user's terminal.
    writeFileSync(store.imageFile(other.id), 'garbage\n\x1b[2J');
    const images = await layerfs(store.root, 'images');
    expect(images.stderr).toContain(`${store.imageFile(other.id)}: damaged record: not JSON`);
    expect(images.stderr).toMatch(/^layerfs: warning: [^\n\x1b]*\(layerfs system check --repair\)\n$/);
    expect(images.stdout).toContain('busybox');
    expect(images.stdout).not.toContain('other');
    const r = await layerfs(store.root, 'inspect', 'other:1');
    oneLine(r.stderr);
    expect(r.stderr).toContain(`${store.imageFile(other.id)}: damaged record: not JSON`);
    const ran = await layerfs(store.root, 'run', '--rm', '--network', 'none', 'busybox:test', 'echo', 'still runs');
    expect(ran).toMatchObject({ code: 0, stdout: 'still runs\n' });
    // a collection keeps everything while a record it cannot read might need it
    expect(await store.gc()).toEqual([]);
    expect(existsSync(store.layerDir(other.layers[0]!.diffId))).toBe(true);

    const repair = await layerfs(store.root, 'system', 'check', '--repair');
    expect(repair.stdout).toContain(`${store.imageFile(other.id)}: not JSON`);
    expect(existsSync(store.layerDir(other.layers[0]!.diffId))).toBe(false);
    expect(Object.keys(await store.readTags())).toEqual(['busybox:test']);
    expect((await store.resolve('busybox:test')).id).toBe(busybox.id);
  });

  it('layers/<hex>/layer.json emptied: a load of that layer names it; repair rewrites it from the image record', async () => {
    const { store, other } = await fixture();
    const file = store.layerFile(other.layers[0]!.diffId);
    writeFileSync(file, '');
    await expect(store.layer(other.layers[0]!.diffId)).rejects.toMatchObject({ code: 'DAMAGED_RECORD', message: `${file}: damaged record: empty file` });
    await layerfs(store.root, 'system', 'check', '--repair');
    expect(await store.layer(other.layers[0]!.diffId)).toEqual(other.layers[0]);
  });

  it('holds/<holder>.json damaged: reported, and nothing is collected until repair removes it', async () => {
    const { store } = await fixture();
    writeFileSync(join(store.root, 'holds', `${'a'.repeat(64)}.json`), '{"holder": 1}');
    const check = await layerfs(store.root, 'system', 'check');
    expect(check.stdout).toContain(`holds/${'a'.repeat(64)}.json: field 'holder' is not a string`);
    await layerfs(store.root, 'system', 'check', '--repair');
    expect((await store.holds()).map((h) => h.holder)).toEqual(['b'.repeat(64)]);
  });

  it("a container's state.json damaged: ps -a shows it as damaged next to the others; repair removes it", async () => {
    const { store, ids } = await fixture();
    writeFileSync(join(store.root, 'containers', ids[0]!, 'state.json'), '{"id":');
    const ps = await layerfs(store.root, 'ps', '-a');
    expect(ps.code).toBe(0);
    const lines = ps.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.startsWith(ids[1]!.slice(0, 12)))).toMatch(/Exited \(0\) .* ago\s+c1$/);
    expect(lines.find((l) => l.startsWith(ids[0]!.slice(0, 12)))).toMatch(/Damaged: not JSON \(.*\)$/);
    const rm = await layerfs(store.root, 'rm', 'aaaa');
    expect(rm.stderr).toContain(`containers/${ids[0]}/state.json: damaged record: not JSON`);
    await layerfs(store.root, 'system', 'check', '--repair');
    expect(existsSync(join(store.root, 'containers', ids[0]!))).toBe(false);
    expect((await store.holds()).map((h) => h.holder)).toEqual([ids[1]]);
  });

  it("an image's config blob changed: inspect says the blob does not match its digest; repair removes the image", async () => {
    const { store, other } = await fixture();
    writeFileSync(store.blobPath(other.id), '{}');
    const r = await layerfs(store.root, 'inspect', 'other:1');
    oneLine(r.stderr);
    expect(r.stderr).toContain(`${store.blobPath(other.id)}: damaged record: content does not match its digest`);
    const repair = await layerfs(store.root, 'system', 'check', '--repair');
    expect(repair.stdout).toContain(`${store.imageFile(other.id)}: config ${hex(other.id).slice(0, 12)}: content does not match its digest`);
    expect(Object.keys(await store.readTags())).toEqual(['busybox:test']);
  });
});

describe('system df and system prune, as Docker', () => {
  it('df counts images, containers and layers; prune -f removes stopped containers, dangling images and unused layers', async () => {
    const { store, busybox, other, ids } = await fixture();
    await store.rmi('other:1'); // its layer goes with it
    const dangling = await store.addImage({ config: { ...CONFIG, created: '2018-01-01T00:00:00Z' }, layers: [async () => Readable.from([await tarOf([{ name: 'd', content: 'd' }])])] });
    const df = await layerfs(store.root, 'system', 'df');
    const rows = df.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/));
    expect(rows[0]).toEqual(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']);
    expect(rows[1]!.slice(0, 3)).toEqual(['Images', '2', '1']);
    expect(rows[2]!.slice(0, 3)).toEqual(['Containers', '2', '0']);
    expect(rows[3]!.slice(0, 3)).toEqual(['Layers', '2', '2']);
    expect(rows[1]![4]).toBe('1B (0%)'); // the dangling image's one-byte layer; busybox is in use
    // docker's tabwriter (cells at least 10 wide) and docker's --format for df: templates, json with its keys, an unknown field refused.
    expect(df.stdout.split('\n')[0]).toBe('TYPE         TOTAL     ACTIVE    SIZE      RECLAIMABLE');
    expect((await layerfs(store.root, 'system', 'df', '--format', '{{.Type}}={{.TotalCount}}')).stdout).toBe('Images=2\nContainers=2\nLayers=2\n');
    expect(Object.keys(JSON.parse((await layerfs(store.root, 'system', 'df', '--format', 'json')).stdout.split('\n')[0]!) as object)).toEqual(['Active', 'Reclaimable', 'Size', 'TotalCount', 'Type']);
    expect(await layerfs(store.root, 'system', 'df', '--format', '{{.Nope}}')).toMatchObject({ code: 125, stdout: '' });
    // -v: docker's per-image (shared/unique size, containers) and per-container sections.
    const verbose = (await layerfs(store.root, 'system', 'df', '-v')).stdout.split('\n');
    expect(verbose.slice(0, 3)).toEqual(['Images space usage:', '', expect.stringMatching(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS$/)]);
    expect(verbose.find((l) => l.startsWith('busybox '))).toMatch(/ 2$/);
    expect(verbose).toContain('Containers space usage:');
    expect(verbose.filter((l) => / Exited \(0\) /.test(l))).toHaveLength(2);

    const before = storeState(store.root);
    expect((await layerfsWith('n\n', store.root, 'system', 'prune')).stdout).toContain('Are you sure you want to continue? [y/N]'); // no -f, no "y": nothing goes
    expect((await layerfs(store.root, 'system', 'prune')).code).toBe(0); // end of input is a no, too
    expect(storeState(store.root)).toEqual(before);
    const pruned = await layerfs(store.root, 'system', 'prune', '-f');
    expect(pruned.stdout).toBe(
      `Deleted Containers:\n${[...ids].reverse().map((i) => i + '\n').join('')}\nDeleted Images:\ndeleted: ${dangling.id}\ndeleted: ${dangling.layers[0]!.diffId}\n\nTotal reclaimed space: ${pruned.stdout.split('space: ')[1]}`,
    );
    expect((await store.images()).map((i) => i.id)).toEqual([busybox.id]);
    const all = await layerfs(store.root, 'system', 'prune', '-a', '-f');
    expect(all.stdout).toContain(`Deleted Images:\nuntagged: busybox:test\ndeleted: ${busybox.id}\n`);
    expect(await store.images()).toEqual([]);
    expect(storeState(store.root)).toEqual({ 'blobs/': 'dir', 'blobs/sha256/': 'dir', 'containers/': 'dir', 'holds/': 'dir', 'images/': 'dir', 'layers/': 'dir', lock: expect.any(String), 'tags.json': expect.any(String), 'tmp/': 'dir' });
    expect(other.id).not.toBe(busybox.id);
  });
});
