/** `inspect` and `history` as data: what the commands print, built from a record and its config. */
import { shortId } from '../oci/digest.js';
import type { HistoryEntry, ImageConfig } from '../oci/config.js';
import type { ImageRecord } from './types.js';

/** Docker's `image inspect` shape, with the layer dirs where overlay2 puts its own. */
export function inspectImage(img: ImageRecord, config: ImageConfig, layerDirs: string[]): Record<string, unknown> {
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests ?? [],
    Parent: img.parent ?? '',
    Comment: '',
    Created: config.created ?? img.created ?? '',
    Author: config.author ?? '',
    Config: config.config ?? {},
    Architecture: config.architecture,
    Os: config.os,
    Size: img.layers.reduce((n, l) => n + l.unpackedSize, 0),
    GraphDriver: { Name: 'layerfs', Data: { LowerDir: layerDirs.join(':') } },
    RootFS: { Type: 'layers', Layers: img.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: img.loadedAt, ManifestDigest: img.manifestDigest },
  };
}

export interface HistoryRow {
  /** The image ID on the newest row, `<missing>` below it (as docker shows). */
  image: string;
  created?: string;
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/**
 * Newest first. History entries without empty_layer consume the layers in order.
 * `ancestors` (a build's parent images, nearest first) name the rows below the
 * newest: each build step added one history entry.
 */
export function historyRows(img: ImageRecord, config: ImageConfig, ancestors: string[] = []): HistoryRow[] {
  const history: HistoryEntry[] = config.history?.length
    ? config.history
    : img.layers.map(() => ({ created: config.created, created_by: '' }));
  let layer = 0;
  const rows = history.map((h) => {
    const empty = h.empty_layer === true || layer >= img.layers.length;
    const size = empty ? 0 : img.layers[layer++]!.unpackedSize;
    return { image: '<missing>', created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '', emptyLayer: empty };
  });
  rows.reverse();
  [img.id, ...ancestors].forEach((id, i) => {
    if (rows[i]) rows[i].image = id;
  });
  return rows;
}
