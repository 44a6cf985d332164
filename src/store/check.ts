/**
 * `system check` for the store: every record read and validated, every
 * reference followed (tag → image record → config and layers), and what
 * nothing reaches. Each problem says what `--repair` does about it; repair
 * fixes what can be rebuilt (a layer.json from an image record that lists
 * the layer, the tags a torn tags.json still shows) and removes what cannot
 * (a damaged image record, a tag to nothing, unreachable layers and blobs).
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DamagedRecordError } from '../errors.js';
import { hexOf, isDigest, shortId } from '../oci/digest.js';
import { withLock } from './lock.js';
import { scanHolds } from './holds.js';
import { writeRecord } from './record.js';
import { salvageTags, type Store } from './store.js';
import type { ImageRecord, LayerRef } from './types.js';

export interface Problem {
  /** The file or thing at fault. */
  what: string;
  reason: string;
  /** What `--repair` does. */
  repair: string;
}

export interface CheckResult {
  problems: Problem[];
  /** With repair: what went (layers and blobs nothing reached), as collected. */
  removed: string[];
}

export async function checkStore(store: Store, opts: { repair?: boolean } = {}): Promise<CheckResult> {
  const problems: Problem[] = [];
  const report = (what: string, reason: string, repair: string) => problems.push({ what, reason, repair });
  const repair = opts.repair === true;

  await withLock(store.root, async () => {
    const { images, damaged } = await store.scan();
    const byId = new Map(images.map((r) => [r.id, r]));
    const unusable = new Set<string>();

    // image records: damaged ones, and those whose config or layers are gone
    for (const d of damaged) {
      if (d.data.file === store.tagsFile) continue;
      report(String(d.data.file), String(d.data.reason), 'remove the record and its tags');
      if (repair) await rm(String(d.data.file), { force: true });
    }
    const layerRefs = new Map<string, LayerRef>();
    for (const img of images) for (const l of img.layers) layerRefs.set(l.diffId, l);
    for (const img of images) {
      const why = await brokenImage(store, img);
      if (why === null) continue;
      unusable.add(img.id);
      report(store.imageFile(img.id), why, 'remove the image and its tags');
      if (repair) await rm(store.imageFile(img.id), { force: true });
    }

    // layers: a damaged layer.json is rebuilt from an image record that lists the layer
    for (const hex of await readdir(join(store.root, 'layers'))) {
      const diffId = `sha256:${hex}`;
      try {
        await store.layer(diffId);
      } catch (err) {
        if (!(err instanceof DamagedRecordError)) throw err;
        const known = layerRefs.get(diffId);
        report(store.layerFile(diffId), String(err.data.reason), known ? 'rewrite it from the image record that lists the layer' : 'remove the layer (no image uses it)');
        if (repair && known) await writeRecord(store.layerFile(diffId), known);
        else if (repair) await rm(join(store.root, 'layers', hex), { recursive: true, force: true });
      }
    }

    // tags: a damaged table keeps what it still shows; a tag to a missing or removed image goes
    let tags: Record<string, string>;
    const tagsDamage = damaged.find((d) => d.data.file === store.tagsFile);
    if (tagsDamage) {
      tags = salvageTags(await readFile(store.tagsFile, 'utf8').catch(() => ''));
      report(store.tagsFile, String(tagsDamage.data.reason), `rewrite it with the ${Object.keys(tags).length} tag(s) it still shows`);
    } else tags = await store.readTags();
    let changed = tagsDamage !== undefined;
    for (const [t, id] of Object.entries(tags)) {
      if (byId.has(id) && !unusable.has(id)) continue;
      if (!byId.has(id) && !unusable.has(id)) report(`tag ${t}`, `points at ${shortId(id)}, which has no image record`, 'remove the tag');
      delete tags[t];
      changed = true;
    }
    if (repair && changed) await store.writeTags(tags);

    // holds: a damaged one keeps an image nobody can name
    for (const d of (await scanHolds(store.root)).damaged) {
      report(String(d.data.file), String(d.data.reason), 'remove the hold');
      if (repair) await rm(String(d.data.file), { force: true });
    }
  });

  // what nothing reaches: reported always, removed (with abandoned imports) by repair
  const { live, sure } = await store.reachable();
  if (sure || repair) {
    for (const hex of await readdir(join(store.root, 'layers'))) if (!live.has(hex)) report(`layer ${shortId(hex)}`, 'no image or container uses it', 'remove it');
    for (const hex of await readdir(join(store.root, 'blobs', 'sha256'))) if (!live.has(hex)) report(`blob ${shortId(hex)}`, 'nothing refers to it', 'remove it');
  }
  const removed = repair ? await store.gc() : [];
  return { problems, removed };
}

/** Why an image cannot be used (its config or a layer is missing or damaged), or null. */
async function brokenImage(store: Store, img: ImageRecord): Promise<string | null> {
  try {
    const config = await store.config(img);
    const ids = config.rootfs.diff_ids;
    if (ids.length !== img.layers.length || ids.some((d, i) => d !== img.layers[i]!.diffId)) return 'its config lists other layers than its record';
  } catch (err) {
    if (err instanceof DamagedRecordError) return `config ${shortId(img.id)}: ${String(err.data.reason)}`;
    throw err;
  }
  for (const l of img.layers) {
    if (!isDigest(l.diffId)) return `a layer has no valid diff_id`;
    const dir = await readdir(join(store.root, 'layers', hexOf(l.diffId))).catch(() => null);
    if (dir === null || !dir.includes('diff')) return `layer ${shortId(l.diffId)} is missing`;
  }
  return null;
}
