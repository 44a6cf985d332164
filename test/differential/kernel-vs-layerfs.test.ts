/**
 * The differential suite: every scenario runs on kernel overlayfs and on
 * layerfs over identical copies of the same layers. Any difference in the
 * merged tree, the upper dir, the exit code or the output is a divergence.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTree, snapshot, type Snap } from '../helpers/tree.js';
import { mountKernel, mountLayerfs, sh, unmountAll, type Layers } from '../helpers/mounts.js';
import { scenarios, type Scenario } from './scenarios.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-diff-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The kernel's own bookkeeping in the upper dir; layerfs's own metadata likewise.
const internalXattr = (n: string) => (n.startsWith('trusted.overlay.') && n !== 'trusted.overlay.opaque') || n.startsWith('user.layerfs.');

async function runOn(kind: 'kernel' | 'layerfs', s: Scenario, since: bigint) {
  const dir = join(root, `${s.name.replace(/\W+/g, '-')}-${kind}`);
  const layers: Layers = { lowerdirs: s.lower.map((_, i) => join(dir, `lower${i}`)) };
  s.lower.forEach((spec, i) => makeTree(layers.lowerdirs[i]!, spec));
  if (!s.readonly) {
    layers.upperdir = join(dir, 'upper');
    layers.workdir = join(dir, 'work');
    makeTree(layers.upperdir, s.upper ?? {});
    mkdirSync(layers.workdir);
  }
  const mnt = join(dir, 'merged');
  mkdirSync(mnt);
  // LAYERFS_DIFF_SELFCHECK=1 runs the kernel twice: the harness itself must see no divergence.
  const useKernel = kind === 'kernel' || process.env.LAYERFS_DIFF_SELFCHECK === '1';
  await (useKernel ? mountKernel(layers, mnt) : mountLayerfs(layers, mnt));
  const result = await sh(s.script, mnt, s.uid);
  const merged = snapshot(mnt, { since, dirNlink: false });
  const upper: Record<string, Snap> | null = layers.upperdir
    ? snapshot(layers.upperdir, { since, skipXattr: internalXattr, dirNlink: false })
    : null;
  return { exit: result.code, out: result.out.split(dir).join('<dir>'), merged, upper };
}

describe('kernel overlayfs and layerfs agree', () => {
  it.each(scenarios)('$name', async (s) => {
    const since = BigInt(Date.now() - 1000) * 1_000_000n;
    const kernel = await runOn('kernel', s, since);
    const layerfs = await runOn('layerfs', s, since);
    expect(layerfs).toEqual(kernel);
  });
});
