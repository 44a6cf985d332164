/**
 * Test archives built from data: layer tars (tar-stream), compressed with
 * gzip or zstd, wrapped as OCI layouts, docker-save archives (with
 * manifest.json, Docker 25+, and the old v1 form), as directories or tars.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, lstatSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface TarEntry {
  name: string;
  type?: tar.Header['type'];
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
  /** Declared size different from the content (for truncation tests). */
  size?: number;
}

export const T0 = new Date('2020-01-02T03:04:05Z');

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? T0,
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
    } as tar.Header;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, Buffer.from(e.content ?? ''), cb);
      else (pack.entry({ ...header, size: 0 }, cb) as unknown as { end(): void }).end();
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const hex = (d: string) => d.slice(7);

export type Compression = 'none' | 'gzip' | 'zstd';
export function compress(b: Buffer, c: Compression): Buffer {
  if (c === 'gzip') return gzipSync(b);
  if (c === 'zstd') return execFileSync('zstd', ['-q', '-c'], { input: b });
  return b;
}
const MT: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

/** Archive contents: relative file name → bytes, or a symlink. */
export type Files = Record<string, Buffer | { symlink: string }>;

export interface FixtureImage {
  layers: Buffer[]; // uncompressed tars, base first
  tag?: string;
  compression?: Compression;
  cmd?: string[];
  created?: string;
}

export function configOf(img: FixtureImage): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: img.created ?? '2020-01-02T03:04:05Z',
      config: { Cmd: img.cmd ?? ['/bin/sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: img.layers.map((l) => sha(l)) },
      history: img.layers.map((_, i) => ({ created: '2020-01-02T03:04:05Z', created_by: `step ${i + 1}` })),
    }),
  );
}

/** An OCI image layout; with `docker25`, also the manifest.json and repositories Docker 25+ adds. */
export function ociLayout(images: FixtureImage[], opts: { docker25?: boolean } = {}): Files {
  const files: Files = { 'oci-layout': Buffer.from('{"imageLayoutVersion":"1.0.0"}') };
  const index: object[] = [];
  const manifestJson: object[] = [];
  for (const img of images) {
    const c = img.compression ?? 'none';
    const blobs = img.layers.map((l) => compress(l, c));
    for (const b of blobs) files[`blobs/sha256/${hex(sha(b))}`] = b;
    const config = configOf(img);
    files[`blobs/sha256/${hex(sha(config))}`] = config;
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: blobs.map((b) => ({ mediaType: MT[c], digest: sha(b), size: b.length })),
      }),
    );
    files[`blobs/sha256/${hex(sha(manifest))}`] = manifest;
    index.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha(manifest),
      size: manifest.length,
      ...(img.tag ? { annotations: { 'io.containerd.image.name': img.tag, 'org.opencontainers.image.ref.name': img.tag.split(':').pop() } } : {}),
    });
    manifestJson.push({ Config: `blobs/sha256/${hex(sha(config))}`, RepoTags: img.tag ? [img.tag] : [], Layers: blobs.map((b) => `blobs/sha256/${hex(sha(b))}`) });
  }
  files['index.json'] = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }));
  if (opts.docker25) files['manifest.json'] = Buffer.from(JSON.stringify(manifestJson));
  return files;
}

/** `docker save` with manifest.json (Docker 1.10 to 24): `<id>/layer.tar`, `<config-hex>.json`. */
export function dockerSave(images: FixtureImage[]): Files {
  const files: Files = {};
  const manifest: object[] = [];
  for (const img of images) {
    const config = configOf(img);
    files[`${hex(sha(config))}.json`] = config;
    const layers = img.layers.map((l) => {
      const dir = hex(sha(`${hex(sha(l))}`)); // a v1-style id per layer
      files[`${dir}/VERSION`] = Buffer.from('1.0');
      files[`${dir}/json`] = Buffer.from(JSON.stringify({ id: dir }));
      files[`${dir}/layer.tar`] = compress(l, img.compression ?? 'none');
      return `${dir}/layer.tar`;
    });
    manifest.push({ Config: `${hex(sha(config))}.json`, RepoTags: img.tag ? [img.tag] : null, Layers: layers });
  }
  files['manifest.json'] = Buffer.from(JSON.stringify(manifest));
  return files;
}

/** The old `docker save` of seed 003: `<id>/{VERSION,json,layer.tar}` chained by parent, and `repositories`. */
export function dockerSaveV1(img: FixtureImage & { tag: string }, opts: { linkDuplicates?: boolean } = {}): Files {
  const files: Files = {};
  let parent: string | undefined;
  const ids: string[] = [];
  for (const [i, l] of img.layers.entries()) {
    const id = hex(sha(`${parent ?? ''}/${hex(sha(l))}`));
    const top = i === img.layers.length - 1;
    files[`${id}/VERSION`] = Buffer.from('1.0');
    files[`${id}/json`] = Buffer.from(
      JSON.stringify({
        id,
        ...(parent ? { parent } : {}),
        created: `2015-06-0${i + 1}T00:00:00Z`,
        container_config: { Cmd: ['/bin/sh', '-c', `step ${i + 1}`] },
        ...(top ? { config: { Cmd: img.cmd ?? ['/bin/sh'] }, architecture: 'amd64', os: 'linux' } : {}),
      }),
    );
    const dupe = ids.find((other) => (files[`${other}/layer.tar`] as Buffer | undefined)?.equals(l));
    files[`${id}/layer.tar`] = opts.linkDuplicates && dupe ? { symlink: `../${dupe}/layer.tar` } : l;
    ids.push(id);
    parent = id;
  }
  const [name, tag] = img.tag.split(':') as [string, string];
  files.repositories = Buffer.from(JSON.stringify({ [name]: { [tag]: parent } }));
  return files;
}

export function writeDir(files: Files, dir: string): string {
  for (const [name, v] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    if (Buffer.isBuffer(v)) writeFileSync(join(dir, name), v);
  }
  return dir;
}

export async function tarOfFiles(files: Files): Promise<Buffer> {
  return tarOf(
    Object.entries(files).map(([name, v]) => (Buffer.isBuffer(v) ? { name, content: v } : { name, type: 'symlink', linkname: v.symlink })),
  );
}

/** Every file in a tree with its content hash (directories' times left out: staging touches them). */
export function storeState(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    if (st.isDirectory()) {
      if (rel) out[rel + '/'] = 'dir';
      for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
    } else if (st.isSymbolicLink()) out[rel] = `-> ${readlinkSync(p)}`;
    else if (st.isFile()) out[rel] = `${st.mode.toString(8)} ${sha(readFileSync(p)).slice(7, 19)}`;
    else out[rel] = `special ${st.mode.toString(8)} ${st.rdev}`;
  };
  walk('');
  return out;
}
