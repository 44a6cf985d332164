/**
 * The layer store: a content-addressed directory.
 *
 *   blobs/sha256/<hex>         configs, manifests and layer blobs as received
 *   layers/<diffid-hex>/diff   each layer unpacked once, ready to be a lowerdir
 *   layers/<diffid-hex>/layer.json
 *   images/<id-hex>.json       one record per image (layers base first)
 *   tags.json                  { "name:tag": "sha256:<id>" }
 *   holds/<holder>.json        images in use outside the store (see holds.ts)
 *   tmp/<pid>-<n>/             imports being staged (see staging.ts)
 *   lock                       held while anything above changes
 */
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createReadStream, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import { LayerfsError, UnknownImageError, UsageError } from '../errors.js';
import { hexOf, isDigest, shortId } from '../oci/digest.js';
import { processAlive, withLock } from './lock.js';
import { isRef, normalizeRef } from '../oci/reference.js';
import { readHolds, removeHold, writeHold, type Hold } from './holds.js';
import { Staging, type LayerExpect, type StagingHost } from './staging.js';
import type { ImageConfig } from '../oci/config.js';
import type { ImageRecord, LayerRef, Opener } from './types.js';

export const DEFAULT_ROOT = '/var/lib/layerfs';

export interface NewImage {
  config: ImageConfig;
  /** Base first: layers the store already has, or openers of new (possibly compressed) layer tars. */
  layers: Array<LayerRef | Opener>;
  tags?: string[];
  /** The image it was built on ('' for scratch), for the build cache and `images`. */
  parent?: string;
}

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export class Store implements StagingHost {
  private constructor(readonly root: string) {}

  static async open(root?: string): Promise<Store> {
    const dir = root ?? process.env.LAYERFS_ROOT ?? DEFAULT_ROOT;
    for (const sub of ['blobs/sha256', 'layers', 'images', 'tmp']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
    return new Store(dir);
  }

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  openBlob(digest: string): ReadStream {
    return createReadStream(this.blobPath(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return isDigest(digest) && (await exists(this.blobPath(digest)));
  }

  layerDir(diffId: string): string {
    return join(this.root, 'layers', hexOf(diffId), 'diff');
  }

  /** The stored layer with this diff_id, or null. */
  async layer(diffId: string): Promise<LayerRef | null> {
    if (!isDigest(diffId)) return null;
    const text = await readFile(join(this.root, 'layers', hexOf(diffId), 'layer.json'), 'utf8').catch(() => null);
    return text === null ? null : (JSON.parse(text) as LayerRef);
  }

  /** Starts an import; the caller commits or discards it. */
  async begin(): Promise<Staging> {
    await this.sweepTmp();
    const dir = await mkdtemp(join(this.root, 'tmp', `${process.pid}-`));
    await mkdir(join(dir, 'layers'));
    await mkdir(join(dir, 'blobs'));
    return new Staging(this, dir);
  }

  /** Runs `fn` on a fresh import and commits it; on any error the store is left as it was. */
  async transaction<T>(fn: (s: Staging) => Promise<T>): Promise<{ result: T; images: ImageRecord[] }> {
    const s = await this.begin();
    try {
      const result = await fn(s);
      return { result, images: await s.commit() };
    } finally {
      await s.discard();
    }
  }

  /** Adds one layer (e.g. a container's changes for `commit`); reuses a stored one with the same content. */
  async addLayer(open: Opener, expect: Partial<LayerExpect> = {}): Promise<LayerRef> {
    const { result } = await this.transaction((s) => s.addLayer(open, { name: 'layer', ...expect }));
    return result;
  }

  /** Adds an image from its config and layers; `config.rootfs.diff_ids` is filled in from the layers. */
  async addImage(img: NewImage): Promise<ImageRecord> {
    const { images } = await this.transaction(async (s) => {
      const layers: LayerRef[] = [];
      for (const [i, l] of img.layers.entries()) {
        layers.push(typeof l === 'function' ? await s.addLayer(l, { name: `layer ${i + 1}` }) : l);
      }
      const config = { ...img.config, rootfs: { type: 'layers' as const, diff_ids: layers.map((l) => l.diffId) } };
      const record = await s.addImage(Buffer.from(JSON.stringify(config)), layers, img.tags ?? [], 'new image');
      if (img.parent !== undefined) record.parent = img.parent;
      return record;
    });
    return images[0]!;
  }

  async readTags(): Promise<Record<string, string>> {
    const text = await readFile(join(this.root, 'tags.json'), 'utf8').catch(() => '{}');
    return JSON.parse(text) as Record<string, string>;
  }

  /** Call with the lock held. */
  async writeTags(tags: Record<string, string>): Promise<void> {
    const sorted = Object.fromEntries(Object.entries(tags).sort(([a], [b]) => a.localeCompare(b)));
    await writeAtomic(join(this.root, 'tags.json'), JSON.stringify(sorted, null, 2) + '\n');
  }

  /** Call with the lock held. */
  async writeRecord(record: ImageRecord): Promise<void> {
    const path = join(this.root, 'images', `${hexOf(record.id)}.json`);
    if (await exists(path)) return; // the same config: the same image, loaded before
    const { repoTags: _, ...rest } = record;
    await writeAtomic(path, JSON.stringify(rest, null, 2) + '\n');
  }

  private async records(): Promise<ImageRecord[]> {
    const names = (await readdir(join(this.root, 'images'))).filter((n) => /^[0-9a-f]{64}\.json$/.test(n));
    const out: ImageRecord[] = [];
    for (const n of names) {
      const text = await readFile(join(this.root, 'images', n), 'utf8').catch(() => null);
      if (text !== null) out.push({ ...(JSON.parse(text) as ImageRecord), repoTags: [] });
    }
    return out;
  }

  /** All images with their tags, newest first. */
  async images(): Promise<ImageRecord[]> {
    const [records, tags] = await Promise.all([this.records(), this.readTags()]);
    for (const r of records) r.repoTags = Object.keys(tags).filter((t) => tags[t] === r.id).sort();
    return records.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id));
  }

  /** Finds an image by `name[:tag]`, full `sha256:` ID, or an unambiguous ID prefix. */
  async resolve(ref: string): Promise<ImageRecord> {
    const all = await this.images();
    if (isRef(ref)) {
      const name = normalizeRef(ref);
      const byTag = all.find((r) => r.repoTags.includes(name));
      if (byTag) return byTag;
    }
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      const hits = all.filter((r) => hexOf(r.id).startsWith(hex));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new UsageError(`ambiguous image ID prefix: ${ref}`);
    }
    throw new UnknownImageError(ref);
  }

  /**
   * The unpacked layer directories, top layer first, as `lowerdir=` wants them.
   * A layer that appears twice (old images repeat the empty layer) is listed
   * once, at its topmost place: kernel overlayfs refuses a repeated lowerdir
   * (ELOOP), and the lower copy can change nothing the upper copy does not
   * already decide.
   */
  layerDirs(img: ImageRecord): string[] {
    return [...new Set(img.layers.map((l) => this.layerDir(l.diffId)).reverse())];
  }

  async config(img: ImageRecord): Promise<ImageConfig> {
    return JSON.parse(await readFile(this.blobPath(img.id), 'utf8')) as ImageConfig;
  }

  async tag(src: string, dst: string): Promise<void> {
    const img = await this.resolve(src);
    const name = normalizeRef(dst);
    await withLock(this.root, async () => {
      const tags = await this.readTags();
      tags[name] = img.id;
      await this.writeTags(tags);
    });
  }

  /**
   * Records `name@sha256:…` (a registry's manifest digest for this image, from
   * a pull or a push) in the image's record: docker's RepoDigests.
   */
  async addRepoDigest(imageId: string, repoDigest: string): Promise<void> {
    const path = join(this.root, 'images', `${hexOf(imageId)}.json`);
    await withLock(this.root, async () => {
      const text = await readFile(path, 'utf8').catch(() => null);
      if (text === null) return; // removed meanwhile
      const record = JSON.parse(text) as Omit<ImageRecord, 'repoTags'>;
      if (record.repoDigests?.includes(repoDigest)) return;
      record.repoDigests = [...(record.repoDigests ?? []), repoDigest].sort();
      await writeAtomic(path, JSON.stringify(record, null, 2) + '\n');
    });
  }

  /**
   * A plain layer's blob compressed for push, kept in the layer's directory
   * (it goes with the layer), so that every push sends the same bytes and digest.
   */
  async compressedLayer(diffId: string, kind: string): Promise<{ path: string; digest: string; size: number } | null> {
    const path = join(this.root, 'layers', hexOf(diffId), `blob.${kind}`);
    const text = await readFile(`${path}.json`, 'utf8').catch(() => null);
    if (text === null) return null;
    let desc: { digest: string; size: number };
    try {
      desc = JSON.parse(text) as typeof desc;
    } catch {
      return null; // a damaged note: the blob is made again
    }
    // A blob gone or cut short is made again (the registry checks the digest of what it gets).
    const st = await stat(path).catch(() => null);
    return st?.size === desc.size ? { path, ...desc } : null;
  }

  /** Keeps `file` (on the store's filesystem) as the layer's `kind` blob; the first one kept wins. */
  async keepCompressedLayer(diffId: string, kind: string, file: string, desc: { digest: string; size: number }): Promise<{ path: string; digest: string; size: number }> {
    try {
      return await withLock(this.root, async () => {
        const known = await this.compressedLayer(diffId, kind);
        if (known) return known;
        if (!(await exists(join(this.root, 'layers', hexOf(diffId))))) {
          throw new LayerfsError('STORE_RACE', `layer ${diffId} was removed while it was being pushed; push again`);
        }
        const path = join(this.root, 'layers', hexOf(diffId), `blob.${kind}`);
        await rename(file, path);
        await writeAtomic(`${path}.json`, JSON.stringify(desc) + '\n');
        return { path, ...desc };
      });
    } finally {
      await rm(file, { force: true });
    }
  }

  /** A private temp file name inside the store (same filesystem, removed with its process's leftovers). */
  tmpPath(what: string): string {
    return join(this.root, 'tmp', `${process.pid}-${what}-${Math.random().toString(36).slice(2)}`);
  }

  /**
   * Marks image `imageId` as used by `holder` (one image per holder; a new
   * hold replaces the old). While held, `rmi` refuses the image unless forced,
   * and even then its layers stay until `release`. The image must exist.
   */
  async hold(holder: string, imageId: string, description = holder): Promise<void> {
    await withLock(this.root, async () => {
      if (!(await exists(join(this.root, 'images', `${hexOf(imageId)}.json`)))) throw new UnknownImageError(imageId);
      await writeHold(this.root, { holder, imageId, description });
    });
  }

  /** Ends `holder`'s hold (a no-op when it has none); what only it kept goes at the next collection. */
  async release(holder: string): Promise<void> {
    await withLock(this.root, () => removeHold(this.root, holder));
  }

  async holds(): Promise<Hold[]> {
    return readHolds(this.root);
  }

  /**
   * Removes a tag, or the image: a tag of an image that has other tags is only
   * untagged (as docker does); otherwise the image goes, and with it every
   * layer and blob no other image or hold needs. A held image (one a
   * container uses) is refused unless `force` (then only its record and tags go).
   */
  async rmi(ref: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    const img = await this.resolve(ref);
    const byTag = isRef(ref) && img.repoTags.includes(normalizeRef(ref)) ? normalizeRef(ref) : null;
    return withLock(this.root, async () => {
      const tags = await this.readTags();
      const mine = Object.keys(tags).filter((t) => tags[t] === img.id);
      const untag = byTag && mine.length > 1 ? [byTag] : mine;
      if (untag.length === mine.length && !opts.force) {
        const hold = (await readHolds(this.root)).find((h) => h.imageId === img.id);
        if (hold) throw new LayerfsError('IMAGE_IN_USE', `${ref}: image ${shortId(img.id)} is used by ${hold.description}`, { ref, holder: hold.holder });
      }
      for (const t of untag) delete tags[t];
      await this.writeTags(tags);
      if (untag.length < mine.length) return { untagged: untag, deleted: [] };
      await rm(join(this.root, 'images', `${hexOf(img.id)}.json`), { force: true });
      const parents = await this.dropParents(img, tags);
      return { untagged: untag, deleted: [img.id, ...parents, ...(await this.collect())] };
    });
  }

  /**
   * A build's intermediate images go with the last image built on them, as
   * docker's rmi does: each untagged, unheld parent no other image was built on.
   * Call with the lock held.
   */
  private async dropParents(img: ImageRecord, tags: Record<string, string>): Promise<string[]> {
    const held = new Set((await readHolds(this.root)).map((h) => h.imageId));
    const tagged = new Set(Object.values(tags));
    const gone: string[] = [];
    for (let id = img.parent; id; ) {
      const records = await this.records();
      const rec = records.find((r) => r.id === id);
      if (!rec || tagged.has(id) || held.has(id) || records.some((r) => r.parent === id)) break;
      await rm(join(this.root, 'images', `${hexOf(id)}.json`), { force: true });
      gone.push(id);
      id = rec.parent;
    }
    return gone;
  }

  /** Removes unreferenced layers and blobs and abandoned imports; returns what went. */
  async gc(): Promise<string[]> {
    return withLock(this.root, () => this.collect());
  }

  /** Call with the lock held. */
  private async collect(): Promise<string[]> {
    const live = new Set<string>();
    const held = new Set((await readHolds(this.root)).map((h) => h.imageId));
    for (const id of held) if (isDigest(id)) live.add(hexOf(id));
    for (const r of await this.records()) {
      live.add(hexOf(r.id));
      live.add(hexOf(r.manifestDigest));
      for (const l of r.layers) {
        live.add(hexOf(l.digest));
        live.add(hexOf(l.diffId));
      }
    }
    for (const id of held) {
      const config = isDigest(id) ? await readFile(this.blobPath(id), 'utf8').catch(() => null) : null;
      for (const d of config === null ? [] : ((JSON.parse(config) as ImageConfig).rootfs?.diff_ids ?? [])) live.add(hexOf(d));
    }
    const removed: string[] = [];
    for (const hex of await readdir(join(this.root, 'layers'))) {
      if (live.has(hex)) continue;
      await rm(join(this.root, 'layers', hex), { recursive: true, force: true });
      removed.push(`sha256:${hex}`);
    }
    for (const hex of await readdir(join(this.root, 'blobs', 'sha256'))) {
      if (!live.has(hex)) await rm(join(this.root, 'blobs', 'sha256', hex), { force: true });
    }
    await this.sweepTmp();
    return removed;
  }

  /** Removes what imports of dead processes left in tmp/ (nobody else can be using it). */
  private async sweepTmp(): Promise<void> {
    for (const t of await readdir(join(this.root, 'tmp')).catch(() => [] as string[])) {
      const pid = Number(t.split('-')[0]);
      if (pid > 0 && pid !== process.pid && !processAlive(pid)) await rm(join(this.root, 'tmp', t), { recursive: true, force: true });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
