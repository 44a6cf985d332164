/**
 * Small test images built from file tables: each layer a real tar (gzip
 * unless asked otherwise), the config with the layers' diff_ids, written as
 * an OCI image layout with a tag, the way skopeo's `oci:DIR:TAG` reads it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export type Files = Record<string, string | Buffer>;

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function tarOf(files: Files): Promise<Buffer> {
  const p = pack();
  const dirs = new Set<string>();
  for (const name of Object.keys(files).sort()) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        p.entry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
      }
    }
    const body = files[name]!;
    p.entry({ name, mode: 0o644, mtime: new Date(0) }, typeof body === 'string' ? Buffer.from(body) : body);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface BuiltImage {
  manifestDigest: string;
  /** Manifest size in bytes. */
  size: number;
  configDigest: string;
  layers: Array<{ digest: string; diffId: string; size: number }>;
}

export async function writeOciImage(dir: string, tag: string, layers: Files[], opts: { gzip?: boolean; architecture?: string } = {}): Promise<BuiltImage> {
  const gzip = opts.gzip ?? true;
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (b: Buffer) => {
    const d = digestOf(b);
    await writeFile(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const built: BuiltImage['layers'] = [];
  for (const files of layers) {
    const tar = await tarOf(files);
    const blob = gzip ? gzipSync(tar) : tar;
    built.push({ digest: await put(blob), diffId: digestOf(tar), size: blob.length });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
      history: built.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'test' })),
    }),
  );
  const configDigest = await put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: built.map((l) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}`, digest: l.digest, size: l.size })),
    }),
  );
  const manifestDigest = await put(manifest);
  await setTag(dir, tag, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length });
  return { manifestDigest, configDigest, layers: built, size: manifest.length };
}

async function setTag(dir: string, tag: string, desc: { mediaType: string; digest: string; size: number }): Promise<void> {
  let index: { schemaVersion: number; manifests: unknown[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  } catch {
    // a new layout
  }
  index.manifests = index.manifests.filter((m) => (m as { annotations?: Record<string, string> }).annotations?.['org.opencontainers.image.ref.name'] !== tag);
  index.manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

/** An image index over images already in the layout, tagged `tag`. */
export async function writeOciIndex(dir: string, tag: string, entries: Array<{ image: BuiltImage; platform: { os: string; architecture: string } }>): Promise<string> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries.map((e) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: e.image.manifestDigest, size: e.image.size, platform: e.platform })),
    }),
  );
  const digest = digestOf(index);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), index);
  await setTag(dir, tag, { mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: index.length });
  return digest;
}
