/**
 * The printed summary: a table of medians per workload and system, then the
 * speed ratios against fuse-overlayfs and kernel overlayfs. A ratio is "times
 * as fast as the reference", whatever the unit: above 1 is faster, below 1
 * slower. The tables are Markdown, readable as text and pasteable as-is.
 */
import { SYSTEM_NAMES, type BenchResult, type Cell, type SystemName, type WorkloadResult } from './results.js';

const SHORT: Record<SystemName, string> = {
  native: 'native', kernel: 'kernel ovl', 'fuse-overlayfs': 'fuse-overlayfs', 'unionfs-fuse': 'unionfs-fuse', layerfs: 'layerfs',
  'layerfs-metacopy': 'layerfs metacopy=on', 'layerfs-fuse-native': 'layerfs engine=fuse-native',
};

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

const okMedian = (c: Cell | undefined) => (c?.kind === 'ok' && c.samples.length ? c.median : undefined);

/** How many times as fast `system` is as `ref` on this workload, or undefined when either has no result. */
export function speedRatio(w: WorkloadResult, system: SystemName, ref: SystemName): number | undefined {
  const v = okMedian(w.results[system]);
  const r = okMedian(w.results[ref]);
  if (v === undefined || r === undefined) return undefined;
  return w.better === 'higher' ? v / r : r / v;
}

const ratioText = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

export function formatReport(r: BenchResult): string {
  const systems = SYSTEM_NAMES.filter((s) => r.systems[s] !== undefined);
  const footnotes: string[] = [];
  const cellText = (c: Cell | undefined): string => {
    if (!c) return '–';
    if (c.kind === 'ok') return c.samples.length ? formatValue(c.median) : '–';
    let n = footnotes.indexOf(c.reason);
    if (n < 0) n = footnotes.push(c.reason) - 1;
    return `failed[${n + 1}]`;
  };
  const label = (w: WorkloadResult) => `${w.id} (${w.unit}, ${w.better === 'higher' ? '↑' : '↓'})`;

  const medians = table(
    ['workload', ...systems.map((s) => SHORT[s])],
    r.workloads.map((w) => [label(w), ...systems.map((s) => cellText(w.results[s]))]),
  );
  const others = systems.filter((s) => s !== 'fuse-overlayfs' && s !== 'kernel');
  const ratios = table(
    ['workload', ...others.map((s) => `${SHORT[s]} vs fuse-ovl`), ...others.filter((s) => s !== 'native').map((s) => `${SHORT[s]} vs kernel`), 'fuse-ovl vs kernel'],
    r.workloads.map((w) => [
      w.id,
      ...others.map((s) => ratioText(speedRatio(w, s, 'fuse-overlayfs'))),
      ...others.filter((s) => s !== 'native').map((s) => ratioText(speedRatio(w, s, 'kernel'))),
      ratioText(speedRatio(w, 'fuse-overlayfs', 'kernel')),
    ]),
  );

  const status = systems.map((s) => {
    const st = r.systems[s]!;
    return `  ${SHORT[s].padEnd(15)} ${st.kind === 'ok' ? st.version : `failed: ${st.reason}`}`;
  });
  return [
    `layerfs bench ${r.startedAt}${r.quick ? ' (--quick)' : ''}: medians of ${r.repetitions} repetition(s); ${r.host.cpus} CPUs, Linux ${r.host.kernel}, ` +
      `load ${r.host.loadavg.start.map((x) => x.toFixed(2)).join(' ')} → ${r.host.loadavg.end.map((x) => x.toFixed(2)).join(' ')}`,
    ...status,
    '',
    medians,
    '',
    'Speed ratios (× as fast as the reference; above 1 is faster):',
    '',
    ratios,
    ...(footnotes.length ? ['', ...footnotes.map((f, i) => `[${i + 1}] ${f}`)] : []),
    ...(r.notes.length ? ['', ...r.notes.map((n) => `note: ${n}`)] : []),
  ].join('\n');
}
