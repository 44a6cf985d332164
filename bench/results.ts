/**
 * The shape of bench/results/*.json. `schema` changes when this does, so old
 * result files stay readable by someone who knows which shape they hold.
 */
export const SYSTEM_NAMES = ['native', 'kernel', 'fuse-overlayfs', 'unionfs-fuse', 'layerfs', 'layerfs-metacopy', 'layerfs-fuse-native'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

export type Unit = 'ms' | 's' | 'MB/s' | 'files/s';
/** Which way is better: latency-like units go down, rates go up. */
export type Better = 'lower' | 'higher';
/**
 * cold: caches dropped after mounting; warm: the lower data read into the page
 * cache beforehand; mount: the workload's own untimed pass through the mount
 * comes first (re-read, warm lstat).
 */
export type CacheState = 'cold' | 'warm' | 'mount';

export type Cell =
  | { kind: 'ok'; samples: number[]; median: number }
  | { kind: 'failed'; reason: string; samples: number[] };

export type SystemStatus = { kind: 'ok'; version: string } | { kind: 'failed'; reason: string };

export interface WorkloadResult {
  id: string;
  title: string;
  unit: Unit;
  better: Better;
  cache: CacheState;
  /** Sizes and counts this run used (they shrink under --quick or short disk). */
  params: Record<string, number | string>;
  /** os.loadavg() when the workload started, to judge how quiet the machine was. */
  loadavg: number[];
  results: Partial<Record<SystemName, Cell>>;
}

export interface BenchResult {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  repetitions: number;
  host: {
    hostname: string;
    kernel: string;
    cpus: number;
    cpuModel: string;
    memBytes: number;
    node: string;
    filesystem: string;
    loadavg: { start: number[]; end: number[] };
  };
  systems: Partial<Record<SystemName, SystemStatus>>;
  /** Anything a reader needs to judge the numbers: scaling, the unpack source, setup. */
  notes: string[];
  workloads: WorkloadResult[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
