/**
 * The benchmark harness itself, so it cannot rot unnoticed: one tiny workload
 * on the native directory and kernel overlayfs, checked for the shape of the
 * result (never for timings), plus the failure path and the pure helpers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fitToDisk, bytesNeeded } from '../../bench/disk.js';
import { runBench, type BenchOptions } from '../../bench/harness.js';
import { REPO } from '../../bench/paths.js';
import { copyupSvg } from '../../bench/plot.js';
import { formatReport, speedRatio } from '../../bench/report.js';
import type { BenchResult, SystemName, WorkloadResult } from '../../bench/results.js';
import { FULL, QUICK } from '../../bench/workloads.js';

const work = mkdtempSync(join(tmpdir(), 'layerfs-bench-'));
const mountsUnder = (dir: string) => readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.split(' ')[1]?.startsWith(dir));

beforeAll(() => {
  // The probe runs as compiled JS in a child process.
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'bench/tsconfig.json')]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = (over: Partial<BenchOptions>): BenchOptions => ({
  workRoot: work,
  systems: ['native', 'kernel'],
  scale: { ...QUICK, createCount: 20 },
  repetitions: 1,
  quick: true,
  only: ['create'],
  unpack: 'none',
  timeoutMs: 30_000,
  log: () => {},
  ...over,
});

describe('runBench on native and kernel overlayfs', () => {
  it('measures one tiny workload and returns the result JSON shape', async () => {
    const r = await runBench(options({ repetitions: 2 }));
    expect(mountsUnder(work)).toEqual([]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r).toMatchObject({ schema: 1, quick: true, repetitions: 2, notes: [] });
    expect(r.host.loadavg.start).toHaveLength(3);
    expect(r.host.cpus).toBeGreaterThan(0);
    expect(r.systems.native).toMatchObject({ kind: 'ok' });
    expect(r.systems.kernel).toMatchObject({ kind: 'ok', version: expect.stringContaining('overlayfs') });
    expect(r.workloads.map((w) => w.id)).toEqual(['create']);
    const w = r.workloads[0]!;
    expect(w).toMatchObject({ unit: 'files/s', better: 'higher', params: { files: 20, bytes: 1024 } });
    for (const s of ['native', 'kernel'] as const) {
      const c = w.results[s];
      expect(c?.kind).toBe('ok');
      expect(c?.samples).toHaveLength(2);
      for (const v of c!.samples) expect(v).toBeGreaterThan(0);
    }
    expect(existsSync(join(work, 'run', 'upper'))).toBe(false); // each run's upper is thrown away
    const text = formatReport(r);
    expect(text).toMatch(/\| create \(files\/s, ↑\)\s+\|\s+[\d,.]+ \|\s+[\d,.]+ \|/);
  });

  it('reports a workload that fails as a failed cell with the reason, and leaves nothing mounted', async () => {
    const r = await runBench(options({ timeoutMs: 1 }));
    expect(mountsUnder(work)).toEqual([]);
    for (const s of ['native', 'kernel'] as const) {
      expect(r.workloads[0]!.results[s]).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/timed out after 1 ms/) });
    }
    expect(formatReport(r)).toContain('failed[1]');
  });

  it('rejects an unknown workload id', async () => {
    await expect(runBench(options({ only: ['no-such-workload'] }))).rejects.toThrow(/unknown workload\(s\): no-such-workload/);
  });
});

const cell = (median: number) => ({ kind: 'ok' as const, samples: [median], median });
const workload = (id: string, better: 'higher' | 'lower', values: Partial<Record<SystemName, number>>, bytes = 0): WorkloadResult => ({
  id, title: id, unit: better === 'higher' ? 'MB/s' : 'ms', better, cache: 'warm', params: { bytes }, loadavg: [0, 0, 0],
  results: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, cell(v)])),
});

describe('speedRatio: times as fast as the reference, whatever the unit', () => {
  it.each([
    { better: 'higher' as const, layerfs: 200, fuse: 100, expected: 2 },
    { better: 'higher' as const, layerfs: 50, fuse: 100, expected: 0.5 },
    { better: 'lower' as const, layerfs: 5, fuse: 10, expected: 2 },
    { better: 'lower' as const, layerfs: 20, fuse: 10, expected: 0.5 },
  ])('$better is better: $layerfs vs $fuse → $expected', ({ better, layerfs, fuse, expected }) => {
    expect(speedRatio(workload('w', better, { layerfs, 'fuse-overlayfs': fuse }), 'layerfs', 'fuse-overlayfs')).toBeCloseTo(expected);
  });
  it('is undefined when either side has no result', () => {
    expect(speedRatio(workload('w', 'higher', { layerfs: 1 }), 'layerfs', 'fuse-overlayfs')).toBeUndefined();
  });
});

describe('fitToDisk', () => {
  it('keeps the full scale when there is room', () => {
    expect(fitToDisk(FULL, 100 * 2 ** 30)).toEqual({ scale: FULL });
  });
  it('scales the biggest files down and says so when space is short', () => {
    const { scale, note } = fitToDisk(FULL, 5 * 2 ** 30);
    expect(bytesNeeded(scale)).toBeLessThanOrEqual(5 * 2 ** 30);
    expect(Math.max(...scale.copyupSizes)).toBeLessThan(2 ** 30);
    expect(scale.copyupSizes[0]).toBe(4096);
    expect(note).toMatch(/^disk: only 5\.0 GiB free/);
  });
});

describe('copyupSvg', () => {
  it('draws one line per system that has results and marks a failed one in the legend', () => {
    const sizes = [4096, 2 ** 20, 2 ** 26];
    const r = {
      startedAt: 'T', repetitions: 3, host: { kernel: 'k', cpus: 2 },
      systems: { kernel: { kind: 'ok', version: 'k' }, 'fuse-overlayfs': { kind: 'ok', version: 'f' }, layerfs: { kind: 'failed', reason: 'no' } },
      workloads: sizes.map((b, i) => ({
        ...workload(`copyup-${i}`, 'lower', { kernel: 1 + i, 'fuse-overlayfs': 2 + i }, b),
        results: { kernel: cell(1 + i), 'fuse-overlayfs': cell(2 + i), layerfs: { kind: 'failed' as const, reason: 'no', samples: [] } },
      })),
    } as unknown as BenchResult;
    const svg = copyupSvg(r);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain('layerfs (failed)');
    for (const label of ['4K', '1M', '64M']) expect(svg).toContain(`>${label}</text>`);
  });
});
