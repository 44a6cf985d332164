/**
 * Listings of lower-layer directories, each read once. Lower layers never
 * change under a mount (kernel overlayfs makes the same assumption), so a
 * name missing from a listing needs no syscall, and neither does finding a
 * `.wh.NAME` whiteout file. The upper layer is never indexed.
 */
import { LRUCache } from 'lru-cache';
import { readdirSync } from './long-path.js';
import { WHITEOUT_PREFIX } from './whiteout.js';

export interface DirListing {
  /** Entry names, whiteout files excluded. */
  names: Set<string>;
  /** NAME for every `.wh.NAME` whiteout file. */
  whiteouts: Set<string>;
}

export class LowerIndex {
  private readonly listings = new LRUCache<string, DirListing>({
    maxSize: 500_000, // names held in all listings together
    sizeCalculation: (l) => l.names.size + l.whiteouts.size + 1,
  });

  /** The listing of a lower directory, or null when it cannot be read (callers then ask the filesystem). */
  get(dir: string): DirListing | null {
    const cached = this.listings.get(dir);
    if (cached !== undefined) return cached;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return null;
    }
    const listing: DirListing = { names: new Set(), whiteouts: new Set() };
    for (const name of entries) {
      if (name.startsWith(WHITEOUT_PREFIX)) listing.whiteouts.add(name.slice(WHITEOUT_PREFIX.length));
      else listing.names.add(name);
    }
    this.listings.set(dir, listing);
    return listing;
  }
}
