/**
 * uid/gid mapping as fuse-overlayfs's `uidmapping=ID:MAPPED:LEN[:ID2:MAPPED2:LEN2...]`:
 * an id stored on disk (ID..ID+LEN) is shown through the mount as MAPPED..,
 * and ids written through the mount are mapped back. Ids outside every range
 * show as the overflow id 65534 and are stored unchanged.
 */
import { UsageError } from './errors.js';

export interface IdRange { disk: number; shown: number; len: number }
export type IdMapping = IdRange[];

export const OVERFLOW_ID = 65534;

export function parseIdMapping(value: string): IdMapping {
  // podman writes a leading ':' (":0:100000:65536"); commas may also separate triples.
  const nums = value.split(/[:,]/).filter((s) => s !== '');
  if (nums.length === 0 || nums.length % 3 !== 0 || nums.some((n) => !/^\d+$/.test(n))) {
    throw new UsageError(`bad id mapping '${value}': expected ID:MAPPED-ID:LENGTH triples`);
  }
  const out: IdMapping = [];
  for (let i = 0; i < nums.length; i += 3) {
    out.push({ disk: Number(nums[i]), shown: Number(nums[i + 1]), len: Number(nums[i + 2]) });
  }
  return out;
}

/** The id as shown through the mount. */
export function toShown(map: IdMapping, diskId: number): number {
  for (const r of map) if (diskId >= r.disk && diskId < r.disk + r.len) return r.shown + (diskId - r.disk);
  return OVERFLOW_ID;
}

/** The id to store on disk for an id given through the mount. */
export function toDisk(map: IdMapping, shownId: number): number {
  for (const r of map) if (shownId >= r.shown && shownId < r.shown + r.len) return r.disk + (shownId - r.shown);
  return shownId;
}
