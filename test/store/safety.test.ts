/**
 * Layer archives are untrusted. Each row is a malicious or broken archive
 * built with tar-stream; each must be refused with an error naming the entry
 * and the reason, write nothing outside the layer, and leave the store as it
 * was. (One row is safe by construction and must succeed without harm.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { importTarball, loadArchive } from '../../src/store/load.js';
import { Store } from '../../src/store/store.js';
import type { UnpackLimits } from '../../src/store/unpack.js';
import { compress, ociLayout, storeState, tarOf, tarOfFiles, type TarEntry } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'layerfs-safety-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const OUTSIDE = join(tmp, 'outside');
mkdirSync(OUTSIDE);
writeFileSync(join(OUTSIDE, 'target'), 'original\n');

interface Row {
  name: string;
  /** The layer tar, or raw bytes for broken archives. */
  layer: TarEntry[] | (() => Promise<Buffer>);
  error?: { code: string; entry?: string; reason: RegExp };
  devices?: boolean;
  limits?: Partial<UnpackLimits>;
}

const file = (name: string, content = 'pwned\n'): TarEntry => ({ name, content });
const good = () => tarOf([{ name: 'a/' }, file('a/big', 'x'.repeat(2000))]);

const ROWS: Row[] = [
  { name: "'..' entry", layer: [file('../escape')], error: { code: 'UNSAFE_PATH', entry: '../escape', reason: /contains '\.\.'/ } },
  { name: "'..' in the middle", layer: [file('a/../../escape')], error: { code: 'UNSAFE_PATH', entry: 'a/../../escape', reason: /contains '\.\.'/ } },
  { name: 'absolute path', layer: [file(`${OUTSIDE}/target`)], error: { code: 'UNSAFE_PATH', reason: /absolute path/ } },
  {
    name: 'symlink used as a parent directory',
    layer: [{ name: 'link', type: 'symlink', linkname: OUTSIDE }, file('link/target')],
    error: { code: 'UNSAFE_PATH', entry: 'link/target', reason: /parent 'link' is a symlink/ },
  },
  {
    name: 'relative symlink climbing out, used as a parent',
    layer: [{ name: 'up', type: 'symlink', linkname: '../../../../../../..' }, file(`up${OUTSIDE}/target`)],
    error: { code: 'UNSAFE_PATH', reason: /parent 'up' is a symlink/ },
  },
  {
    name: 'a directory replaced by a symlink, then used as a parent',
    layer: [{ name: 'd/' }, file('d/ok', 'ok'), { name: 'd', type: 'symlink', linkname: OUTSIDE }, file('d/target')],
    error: { code: 'UNSAFE_PATH', entry: 'd/target', reason: /parent 'd' is a symlink/ },
  },
  { name: 'symlink followed by a file of the same path (replaces the link, writes nothing outside)', layer: [{ name: 'f', type: 'symlink', linkname: `${OUTSIDE}/target` }, file('f')] },
  { name: 'hard link pointing outside', layer: [{ name: 'h', type: 'link', linkname: '../outside/target' }], error: { code: 'UNSAFE_PATH', entry: 'h', reason: /hard link target contains '\.\.'/ } },
  { name: 'hard link to an absolute path', layer: [{ name: 'h', type: 'link', linkname: `${OUTSIDE}/target` }], error: { code: 'UNSAFE_PATH', entry: 'h', reason: /hard link target is an absolute path/ } },
  {
    name: 'hard link through a symlink',
    layer: [{ name: 'l', type: 'symlink', linkname: OUTSIDE }, { name: 'h', type: 'link', linkname: 'l/target' }],
    error: { code: 'UNSAFE_PATH', entry: 'h', reason: /goes through a symlink/ },
  },
  { name: 'hard link to nothing', layer: [{ name: 'h', type: 'link', linkname: 'missing' }], error: { code: 'BAD_ARCHIVE', entry: 'h', reason: /not an earlier file/ } },
  {
    name: 'device file when not root',
    layer: [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }],
    devices: false,
    error: { code: 'UNSAFE_PATH', entry: 'sda', reason: /device file, and not running as root/ },
  },
  { name: "whiteout of '..'", layer: [{ name: 'a/' }, file('a/.wh...', '')], error: { code: 'UNSAFE_PATH', entry: 'a/.wh...', reason: /whiteout of '\.\.'/ } },
  { name: 'the layer root as a symlink', layer: [{ name: './', type: 'symlink', linkname: OUTSIDE }], error: { code: 'BAD_ARCHIVE', reason: /layer root is not a directory/ } },
  {
    name: 'truncated archive',
    layer: async () => (await good()).subarray(0, 512 * 3 + 100),
    error: { code: 'BAD_ARCHIVE', reason: /Unexpected end of data/ },
  },
  {
    name: 'corrupt header checksum',
    layer: async () => {
      const b = Buffer.from(await good());
      b[600] = 0x41; // inside the second header's name field
      return b;
    },
    error: { code: 'BAD_ARCHIVE', reason: /Invalid tar header/ },
  },
  {
    name: 'gzip stream with garbage after its header',
    layer: async () => Buffer.concat([gzipSync(await good()).subarray(0, 20), Buffer.alloc(200, 0x55)]),
    error: { code: 'BAD_ARCHIVE', reason: /gzip: / },
  },
  {
    name: 'zstd stream cut short',
    layer: async () => compress(await good(), 'zstd').subarray(0, 30),
    error: { code: 'BAD_ARCHIVE', reason: /zstd: / },
  },
  { name: 'file larger than the entry limit', layer: good, limits: { maxEntrySize: 1000 }, error: { code: 'BAD_ARCHIVE', entry: 'a/big', reason: /exceeds the limit of 1000/ } },
  { name: 'layer larger than the total limit', layer: [file('a', 'x'.repeat(600)), file('b', 'y'.repeat(600))], limits: { maxTotalSize: 1000 }, error: { code: 'BAD_ARCHIVE', entry: 'b', reason: /layer exceeds the limit/ } },
  { name: 'too many entries', layer: [file('a'), file('b'), file('c'), file('d')], limits: { maxEntries: 3 }, error: { code: 'BAD_ARCHIVE', entry: 'd', reason: /more than 3 entries/ } },
];

let n = 0;
async function layerBytes(row: Row): Promise<Buffer> {
  return typeof row.layer === 'function' ? row.layer() : tarOf(row.layer);
}

describe('unsafe and broken layers (import)', () => {
  it.each(ROWS)('$name', async (row) => {
    const store = await Store.open(join(tmp, `store-${n++}`));
    const path = join(tmp, `layer-${n}.tar`);
    writeFileSync(path, await layerBytes(row));
    const before = storeState(store.root);
    const outside = storeState(OUTSIDE);
    const result = await importTarball(store, path, 'evil:1', { devices: row.devices, limits: row.limits }).catch((e: unknown) => e as Error);
    expect(storeState(OUTSIDE)).toEqual(outside);
    if (!row.error) {
      expect(result).not.toBeInstanceOf(Error);
      const [dir] = store.layerDirs(await store.resolve('evil:1'));
      expect(lstatSync(join(dir!, 'f')).isFile()).toBe(true);
      return;
    }
    expect(result).toBeInstanceOf(Error);
    const err = result as Error & { code: string; data: { entry?: string; reason: string } };
    expect(err.code).toBe(row.error.code);
    expect(err.message).toMatch(row.error.reason);
    expect(err.message).toContain(`layer-${n}.tar`);
    if (row.error.entry) expect(err.data.entry).toBe(row.error.entry);
    expect(storeState(store.root)).toEqual(before);
  });
});

describe('unsafe layers inside an image archive', () => {
  it.each(ROWS.filter((r) => r.error && Array.isArray(r.layer)))('$name', async (row) => {
    const store = await Store.open(join(tmp, `store-${n++}`));
    const keep = await tarOf([file('keep', 'keep')]);
    writeFileSync(join(tmp, 'keep.tar'), await tarOfFiles(ociLayout([{ layers: [keep], tag: 'keep:1' }])));
    await loadArchive(store, join(tmp, 'keep.tar'));
    const before = storeState(store.root);
    const archive = join(tmp, `image-${n}.tar`);
    writeFileSync(archive, await tarOfFiles(ociLayout([{ layers: [keep, await layerBytes(row)], tag: 'evil:1', compression: 'gzip' }])));
    const err = await loadArchive(store, archive, { devices: row.devices, limits: row.limits }).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: row.error!.code });
    expect((err as Error).message).toMatch(/blobs\/sha256\/[0-9a-f]{64}: entry/);
    expect(storeState(store.root)).toEqual(before);
    await expect(store.resolve('evil:1')).rejects.toMatchObject({ code: 'UNKNOWN_IMAGE' });
  });
});
