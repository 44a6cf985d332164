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
import { DamagedRecordError, LayerfsError, UnknownImageError, UsageError } from '../errors.js';
import { hexOf, isDigest, sha256, shortId } from '../oci/digest.js';
import { processAlive, withLock } from './lock.js';
import { isRef, matchTag, normalizeRef } from '../oci/reference.js';
import { readHolds, removeHold, scanHolds, writeHold, type Hold } from './holds.js';
import { Staging, type LayerExpect, type StagingHost } from './staging.js';
import { imageRecordShape, layerRefShape, parseRecord, readRecord, tagsShape, writeRecord } from './record.js';
import { SpaceBudget } from './disk-space.js';
import { DEFAULT_ROOT } from './default-root.js';
import type { ImageConfig } from '../oci/config.js';
import type { ImageRecord, LayerRef, Opener } from './types.js';

export { DEFAULT_ROOT };

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

/** Tag lines a torn tags.json still shows, as `writeTags` writes them (one per line). */
export function salvageTags(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*"([^"\n]+)":\s*"(sha256:[0-9a-f]{64})"/gm)) if (isRef(m[1]!)) out[m[1]!] = m[2]!;
  return out;
}

/** What the store holds, damaged records included (`system check`, `images`). */
export interface StoreScan {
  images: ImageRecord[];
  /** The tag table; from a damaged tags.json, the tags it still shows. */
  tags: Record<string, string>;
  /** Records that could not be read, each with the error naming file and reason. */
  damaged: DamagedRecordError[];
}

const configShape = (v: unknown): string | null => {
  const c = v as ImageConfig | null;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return 'not a JSON object';
  if (!Array.isArray(c.rootfs?.diff_ids) || !c.rootfs.diff_ids.every(isDigest)) return "'rootfs.diff_ids' is not a list of digests";
  return null;
};

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

  layerFile(diffId: string): string {
    return join(this.root, 'layers', hexOf(diffId), 'layer.json');
  }

  /** The stored layer with this diff_id, or null; a damaged layer.json is a DamagedRecordError. */
  async layer(diffId: string): Promise<LayerRef | null> {
    if (!isDigest(diffId)) return null;
    return readRecord<LayerRef>(this.layerFile(diffId), (v) => layerRefShape(v) ?? ((v as LayerRef).diffId === diffId ? null : 'its diffId is not the one its directory says'));
  }

  /** Starts an import; the caller commits or discards it. */
  async begin(): Promise<Staging> {
    await this.sweepTmp();
    const space = await SpaceBudget.of(this.root);
    const dir = await mkdtemp(join(this.root, 'tmp', `${process.pid}-`));
    await mkdir(join(dir, 'layers'));
    await mkdir(join(dir, 'blobs'));
    return new Staging(this, dir, space);
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

  get tagsFile(): string {
    return join(this.root, 'tags.json');
  }

  imageFile(id: string): string {
    return join(this.root, 'images', `${hexOf(id)}.json`);
  }

  /** The tag table; a damaged tags.json is a DamagedRecordError (nothing may overwrite it unseen). */
  async readTags(): Promise<Record<string, string>> {
    return (await readRecord<Record<string, string>>(this.tagsFile, tagsShape)) ?? {};
  }

  /** Call with the lock held. */
  async writeTags(tags: Record<string, string>): Promise<void> {
    await writeRecord(this.tagsFile, Object.fromEntries(Object.entries(tags).sort(([a], [b]) => a.localeCompare(b))));
  }

  /** Call with the lock held. */
  async writeRecord(record: ImageRecord): Promise<void> {
    const path = this.imageFile(record.id);
    if (await exists(path)) {
      // the same config: the same image, loaded before; a damaged record of it is replaced
      const ok = await readRecord(path, imageRecordShape(record.id)).then(() => true, (err: unknown) => !(err instanceof DamagedRecordError));
      if (ok) return;
    }
    const { repoTags: _, ...rest } = record;
    await writeRecord(path, rest);
  }

  /** Every image record (without tags), and the ones that are damaged. */
  private async records(): Promise<StoreScan> {
    const names = (await readdir(join(this.root, 'images'))).filter((n) => /^[0-9a-f]{64}\.json$/.test(n));
    const scan: StoreScan = { images: [], tags: {}, damaged: [] };
    for (const n of names) {
      try {
        const r = await readRecord<ImageRecord>(join(this.root, 'images', n), imageRecordShape(`sha256:${n.slice(0, 64)}`));
        if (r !== null) scan.images.push({ ...r, repoTags: [] });
      } catch (err) {
        if (!(err instanceof DamagedRecordError)) throw err;
        scan.damaged.push(err);
      }
    }
    return scan;
  }

  /**
   * Every readable image with its tags, newest first, and every damaged
   * record met on the way (an image record, tags.json): one damaged record
   * never hides the others. A torn tags.json still names what it shows to
   * readers; writers (readTags) refuse it until `system check --repair`.
   */
  async scan(): Promise<StoreScan> {
    const scan = await this.records();
    let tags: Record<string, string> = {};
    try {
      tags = await this.readTags();
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      scan.damaged.unshift(err);
      tags = salvageTags(await readFile(this.tagsFile, 'utf8').catch(() => ''));
    }
    scan.tags = tags;
    for (const r of scan.images) r.repoTags = Object.keys(tags).filter((t) => tags[t] === r.id).sort();
    scan.images.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? '') || a.id.localeCompare(b.id));
    return scan;
  }

  /** All readable images with their tags, newest first (see `scan` for the damaged ones). */
  async images(): Promise<ImageRecord[]> {
    return (await this.scan()).images;
  }

  /**
   * Finds an image by `name[:tag]` (with Docker's and podman's short-name
   * rules, see matchTag), full `sha256:` ID, or an unambiguous ID prefix.
   */
  async resolve(ref: string): Promise<ImageRecord> {
    return (await this.lookup(ref)).image;
  }

  /** As `resolve`, and the stored tag the reference matched (null when it named an ID). */
  async lookup(ref: string): Promise<{ image: ImageRecord; tag: string | null }> {
    const { images: all, tags, damaged } = await this.scan();
    // A damaged record the reference leads to: reported if nothing else matches.
    let damage: DamagedRecordError | undefined;
    if (isRef(ref)) {
      const m = matchTag(ref, Object.keys(tags));
      if (m.kind === 'ambiguous') {
        throw new LayerfsError('AMBIGUOUS_NAME', `short name '${ref}' matches several images: ${m.tags.join(', ')}; use the full name`, { ref, matches: m.tags });
      }
      if (m.kind === 'found') {
        const id = tags[m.tags[0]!]!;
        const image = all.find((r) => r.id === id);
        if (image) return { image, tag: m.tags[0]! };
        damage = damaged.find((d) => d.data.file === this.imageFile(id));
      }
      // a name a torn tags.json may have held
      damage ??= damaged.find((d) => d.data.file === this.tagsFile);
    }
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]{4,64}$/.test(hex)) {
      const hits = all.filter((r) => hexOf(r.id).startsWith(hex));
      if (hits.length === 1) return { image: hits[0]!, tag: null };
      if (hits.length > 1) throw new UsageError(`ambiguous image ID prefix: ${ref}`);
      damage ??= damaged.find((e) => String(e.data.file).startsWith(join(this.root, 'images', hex)));
    }
    if (damage) throw damage;
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

  /** An image's config (its blob, checked against the ID that names it). */
  async config(img: Pick<ImageRecord, 'id'>): Promise<ImageConfig> {
    const file = this.blobPath(img.id);
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new DamagedRecordError(file, `the config of image ${shortId(img.id)} is missing`) : err;
    });
    if (sha256(bytes) !== img.id) throw new DamagedRecordError(file, `content does not match its digest (${sha256(bytes)})`);
    return parseRecord<ImageConfig>(file, bytes.toString('utf8'), configShape);
  }

  /**
   * The image a container was made from, even after `rmi -f` took its
   * record: its hold keeps the config and the layers, which is all `commit`
   * needs. Null when neither the record nor a hold is left.
   */
  async imageOrHeld(imageId: string): Promise<ImageRecord | null> {
    try {
      return await this.resolve(imageId);
    } catch (err) {
      if (!(err instanceof UnknownImageError)) throw err;
    }
    if (!(await readHolds(this.root)).some((h) => h.imageId === imageId)) return null;
    const config = await this.config({ id: imageId });
    const layers: LayerRef[] = [];
    for (const d of config.rootfs.diff_ids) {
      const l = await this.layer(d);
      if (l === null) return null;
      layers.push(l);
    }
    return { id: imageId, manifestDigest: '', layers, repoTags: [], created: config.created, loadedAt: '' };
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
    const path = this.imageFile(imageId);
    await withLock(this.root, async () => {
      const record = await readRecord<Omit<ImageRecord, 'repoTags'>>(path, imageRecordShape(imageId));
      if (record === null) return; // removed meanwhile
      if (record.repoDigests?.includes(repoDigest)) return;
      record.repoDigests = [...(record.repoDigests ?? []), repoDigest].sort();
      await writeRecord(path, record);
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
        await writeRecord(`${path}.json`, desc);
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

  /**
   * Ends `holder`'s hold (a no-op when it has none). What only it kept (the
   * layers of an image removed with `rmi -f` while a container used it) goes
   * now; returns the layers removed.
   */
  async release(holder: string): Promise<string[]> {
    return withLock(this.root, async () => {
      const had = (await readHolds(this.root)).find((h) => h.holder === holder);
      await removeHold(this.root, holder);
      if (!had || (await exists(this.imageFile(had.imageId)))) return [];
      return this.collect();
    });
  }

  async holds(): Promise<Hold[]> {
    return readHolds(this.root);
  }

  /**
   * Removes a tag, or the image: a tag of an image that has other tags is only
   * untagged (as docker does); otherwise the image goes, and with it every
   * layer and blob no other image or hold needs. As in Docker, an image ID
   * with more than one tag is refused unless `force` (which removes them
   * all), and a held image (one a container uses) is refused
   * unless `force` (then only its record and tags go; its layers stay until
   * the hold is released). An image other images were built on (a build's
   * parent) is only untagged, and refused by its ID.
   */
  async rmi(ref: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    const { image: img, tag: byTag } = await this.lookup(ref);
    return withLock(this.root, async () => {
      const tags = await this.readTags();
      const mine = Object.keys(tags).filter((t) => tags[t] === img.id);
      // Docker (both of its image stores) refuses an ID with more than one tag, whatever the repositories
      if (byTag === null && mine.length > 1 && !opts.force) {
        throw new LayerfsError(
          'CONFLICT',
          `conflict: unable to delete ${shortId(img.id)} (must be forced) - image is referenced in multiple repositories`,
          { ref, tags: mine },
        );
      }
      // An image others were built on stays: by a tag it is only untagged; by its ID it is refused, even forced (docker's).
      const hasChildren = (await this.records()).images.some((r) => r.parent === img.id);
      if (hasChildren && byTag === null) {
        throw new LayerfsError('CONFLICT', `conflict: unable to delete ${shortId(img.id)} (cannot be forced) - image has dependent child images`, { ref });
      }
      const untag = byTag && (mine.length > 1 || hasChildren) ? [byTag] : mine;
      if (untag.length === mine.length && !hasChildren && !opts.force) {
        const hold = (await readHolds(this.root)).find((h) => h.imageId === img.id);
        if (hold) throw new LayerfsError('IMAGE_IN_USE', `${ref}: image ${shortId(img.id)} is used by ${hold.description}`, { ref, holder: hold.holder });
      }
      for (const t of untag) delete tags[t];
      await this.writeTags(tags);
      if (untag.length < mine.length || hasChildren) return { untagged: untag, deleted: [] };
      await rm(this.imageFile(img.id), { force: true });
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
      const { images } = await this.records();
      const rec = images.find((r) => r.id === id);
      if (!rec || tagged.has(id) || held.has(id) || images.some((r) => r.parent === id)) break;
      await rm(this.imageFile(id), { force: true });
      gone.push(id);
      id = rec.parent;
    }
    return gone;
  }

  /** Removes unreferenced layers and blobs and abandoned imports; returns what went. */
  async gc(): Promise<string[]> {
    return withLock(this.root, () => this.collect());
  }

  /**
   * What every record and hold keeps: image IDs, manifests, layer blobs and
   * layer dirs (by hex). `sure` is false when a damaged image record or hold
   * may keep more than can be read: then nothing may be collected.
   */
  async reachable(): Promise<{ live: Set<string>; sure: boolean }> {
    const live = new Set<string>();
    const holds = await scanHolds(this.root);
    const { images, damaged } = await this.records();
    for (const r of images) {
      live.add(hexOf(r.id));
      live.add(hexOf(r.manifestDigest));
      for (const l of r.layers) {
        live.add(hexOf(l.digest));
        live.add(hexOf(l.diffId));
      }
    }
    let sure = damaged.length === 0 && holds.damaged.length === 0;
    for (const { imageId } of holds.holds) {
      live.add(hexOf(imageId));
      // a held image's config that cannot be read no longer says which layers the container stands on
      const config = await this.config({ id: imageId }).catch(() => null);
      if (config === null && !images.some((r) => r.id === imageId)) sure = false;
      for (const d of config?.rootfs.diff_ids ?? []) {
        live.add(hexOf(d));
        const l = await this.layer(d).catch(() => null);
        if (l) live.add(hexOf(l.digest));
      }
    }
    return { live, sure };
  }

  /** Call with the lock held. */
  private async collect(): Promise<string[]> {
    const { live, sure } = await this.reachable();
    const removed: string[] = [];
    await this.sweepTmp();
    if (!sure) return removed; // a damaged record may name what looks unused: `system check --repair` first
    for (const hex of await readdir(join(this.root, 'layers'))) {
      if (live.has(hex)) continue;
      await rm(join(this.root, 'layers', hex), { recursive: true, force: true });
      removed.push(`sha256:${hex}`);
    }
    for (const hex of await readdir(join(this.root, 'blobs', 'sha256'))) {
      if (!live.has(hex)) await rm(join(this.root, 'blobs', 'sha256', hex), { force: true });
    }
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
