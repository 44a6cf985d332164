/**
 * Scales the biggest files down when the work dir's filesystem is short of
 * space, and says so: a result measured on smaller files must not pass for
 * the full-size one.
 */
import { sizeLabel, type Scale } from './workloads.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const MARGIN = 2 * GiB;

/** Bytes the lower trees take, plus the most one run writes to its upper dir, plus a margin. */
export function bytesNeeded(s: Scale): number {
  const metaBytes = s.meta.dirs * s.meta.perDir * s.meta.size;
  const copyup = s.copyupSizes.reduce((a, b) => a + b, 0);
  const trees = copyup + metaBytes + 2 * s.readBytes + s.rm.dirs * s.rm.perDir * 512;
  // A native copy or a full data copy-up (chmod -R on fuse-overlayfs) doubles one tree for a while.
  const peak = Math.max(Math.max(...s.copyupSizes) * 2, metaBytes * 2, s.writeBytes, GiB);
  return trees + peak + MARGIN;
}

function halve(s: Scale): Scale {
  const big = (n: number) => (n > 64 * MiB ? n / 2 : n);
  return {
    ...s,
    copyupSizes: [...new Set(s.copyupSizes.map(big))],
    readBytes: big(s.readBytes),
    writeBytes: big(s.writeBytes),
    meta: { ...s.meta, size: s.meta.size > 8192 ? Math.floor(s.meta.size / 2) : s.meta.size },
  };
}

export function fitToDisk(scale: Scale, availBytes: number): { scale: Scale; note?: string } {
  let s = scale;
  for (let i = 0; i < 8 && bytesNeeded(s) > availBytes; i++) s = halve(s);
  if (s === scale) return { scale };
  const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;
  const fits = bytesNeeded(s) <= availBytes ? '' : ' (still short; expect ENOSPC failures)';
  return {
    scale: s,
    note: `disk: only ${gib(availBytes)} free, ${gib(bytesNeeded(scale))} wanted; biggest files scaled down${fits}: ` +
      `copy-up up to ${sizeLabel(Math.max(...s.copyupSizes))}, reads ${sizeLabel(s.readBytes)}, write ${sizeLabel(s.writeBytes)}, ` +
      `chmod/chown tree files ${s.meta.size} bytes`,
  };
}
