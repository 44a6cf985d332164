/**
 * The copy-up plot: latency of the first 1-byte write against the lower
 * file's size, log-log, one line per system, as a self-contained SVG.
 */
import { SYSTEM_NAMES, type BenchResult, type SystemName } from './results.js';
import { sizeLabel } from './workloads.js';

const COLORS: Record<SystemName, string> = {
  native: '#7f7f7f', kernel: '#1f77b4', 'fuse-overlayfs': '#ff7f0e', 'unionfs-fuse': '#2ca02c', layerfs: '#d62728',
  'layerfs-metacopy': '#9467bd', 'layerfs-fuse-native': '#8c564b',
};

const W = 720;
const H = 460;
const M = { left: 70, right: 170, top: 40, bottom: 55 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function copyupSeries(r: BenchResult): { sizes: number[]; lines: { system: SystemName; points: [number, number][]; failed?: string }[] } {
  const ws = r.workloads.filter((w) => w.id.startsWith('copyup-')).sort((a, b) => Number(a.params.bytes) - Number(b.params.bytes));
  const sizes = ws.map((w) => Number(w.params.bytes));
  const lines = SYSTEM_NAMES.filter((s) => r.systems[s] !== undefined).map((system) => {
    const points: [number, number][] = [];
    let failed: string | undefined;
    for (const w of ws) {
      const c = w.results[system];
      if (c?.kind === 'ok' && c.samples.length) points.push([Number(w.params.bytes), c.median]);
      else if (c?.kind === 'failed') failed = c.reason;
    }
    return { system, points, ...(failed !== undefined && !points.length ? { failed } : {}) };
  });
  return { sizes, lines };
}

export function copyupSvg(r: BenchResult): string {
  const { sizes, lines } = copyupSeries(r);
  const ys = lines.flatMap((l) => l.points.map((p) => p[1]));
  const x0 = Math.log10(Math.min(...sizes, 4096));
  const x1 = Math.log10(Math.max(...sizes, 8192));
  const y0 = Math.floor(Math.log10(Math.min(...ys, 0.1)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys, 1)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (bytes: number) => M.left + ((Math.log10(bytes) - x0) / (x1 - x0 || 1)) * pw;
  const py = (ms: number) => M.top + ph - ((Math.log10(ms) - y0) / (y1 - y0 || 1)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">Copy-up latency: first 1-byte write to a lower file</text>`);
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${M.left}" y1="${y}" x2="${M.left + pw}" y2="${y}" stroke="#ddd"/>`);
    const label = e >= 3 ? `${10 ** (e - 3)} s` : e >= 0 ? `${10 ** e} ms` : `${10 ** (e + 3)} µs`;
    out.push(`<text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${label}</text>`);
  }
  for (const s of sizes) {
    const x = px(s);
    out.push(`<line x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${M.top + ph + 18}" text-anchor="middle">${sizeLabel(s)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 36}" text-anchor="middle">lower file size (log)</text>`);
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">latency (log)</text>`);

  lines.forEach((l, i) => {
    const color = COLORS[l.system];
    if (l.points.length) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${l.points.map(([b, v]) => `${px(b).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}"/>`);
      for (const [b, v] of l.points) out.push(`<circle cx="${px(b).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${l.system} ${sizeLabel(b)}: ${v.toPrecision(3)} ms`)}</title></circle>`);
    }
    const ly = M.top + 10 + i * 22;
    const lx = M.left + pw + 16;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${l.points.length ? '' : ' stroke-dasharray="3 3"'}/>`);
    out.push(`<text x="${lx + 28}" y="${ly + 4}">${esc(l.system)}${l.points.length ? '' : ' (failed)'}</text>`);
  });
  out.push(`<text x="${W - 8}" y="${H - 8}" text-anchor="end" font-size="10" fill="#666">${esc(`${r.startedAt}, medians of ${r.repetitions}, Linux ${r.host.kernel}, ${r.host.cpus} CPUs`)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
