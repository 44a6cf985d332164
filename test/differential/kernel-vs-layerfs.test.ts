/**
 * The differential suite: every scenario runs on kernel overlayfs and on
 * layerfs over identical copies of the same layers. Any difference in the
 * merged tree, the upper dir, the exit code or the output is a divergence.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTree, snapshot, type Snap, type TreeSpec } from '../helpers/tree.js';
import { mountKernel, mountLayerfs, sh, unmount, unmountAll, type Layers } from '../helpers/mounts.js';
import { metacopyScenarios, scenarios, type Scenario } from './scenarios.js';

const root = mkdtempSync(join(tmpdir(), 'layerfs-diff-'));
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The kernel's own bookkeeping in the upper dir; layerfs's own metadata likewise.
const internalXattr = (n: string) => (n.startsWith('trusted.overlay.') && n !== 'trusted.overlay.opaque') || n.startsWith('user.layerfs.');
// With metacopy on, which files are metadata-only is the point: compare that marker too.
const internalXattrMetacopy = (n: string) => n !== 'trusted.overlay.metacopy' && internalXattr(n);

/**
 * The kernel reads only its own whiteout format. Image layers also use OCI's
 * `.wh.NAME` files and `.wh..wh..opq` markers, which layerfs reads: the kernel
 * gets the same layers with those turned into char 0:0 whiteouts and opaque
 * xattrs, so both formats are checked against the kernel's semantics.
 */
function toKernelFormat(spec: TreeSpec): TreeSpec {
  const out: TreeSpec = {};
  for (const [name, entry] of Object.entries(spec)) {
    const slash = name.lastIndexOf('/');
    const dir = name.slice(0, slash + 1);
    const base = name.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      const d = dir.slice(0, -1);
      const own = spec[d] ?? spec[dir];
      out[dir] = { ...(typeof own === 'object' && own.type === 'dir' ? own : { type: 'dir' }), opaque: true };
    } else if (base.startsWith('.wh.')) {
      out[dir + base.slice(4)] = { type: 'whiteout' };
    } else if (!(name in out)) {
      out[name] = entry;
    }
  }
  return out;
}

/**
 * Runs a scenario on one side. 'layerfs-then-kernel' runs it on layerfs over
 * layers in the kernel's format, unmounts, and mounts kernel overlayfs over
 * the same dirs: the kernel must read what layerfs wrote.
 */
async function runOn(kind: 'kernel' | 'layerfs' | 'layerfs-then-kernel', s: Scenario, since: bigint, tag: string = kind) {
  const dir = join(root, `${s.name.replace(/\W+/g, '-')}-${tag}`);
  const layers: Layers = { lowerdirs: s.lower.map((_, i) => join(dir, `lower${i}`)) };
  const useKernel = kind === 'kernel' || process.env.LAYERFS_DIFF_SELFCHECK === '1';
  const format = useKernel || kind === 'layerfs-then-kernel' ? toKernelFormat : (spec: TreeSpec) => spec;
  s.lower.forEach((spec, i) => makeTree(layers.lowerdirs[i]!, format(spec)));
  if (!s.readonly) {
    layers.upperdir = join(dir, 'upper');
    layers.workdir = join(dir, 'work');
    makeTree(layers.upperdir, s.upper ?? {});
    mkdirSync(layers.workdir);
  }
  const mnt = join(dir, 'merged');
  mkdirSync(mnt);
  // LAYERFS_DIFF_SELFCHECK=1 runs the kernel twice: the harness itself must see no divergence.
  await (useKernel ? mountKernel(layers, mnt, { metacopy: s.metacopy }) : mountLayerfs(layers, mnt, s.metacopy ? ['metacopy=on'] : []));
  const result = await sh(s.script, mnt, s.uid);
  if (kind === 'layerfs-then-kernel') {
    await unmount(mnt);
    await mountKernel(layers, mnt, { metacopy: s.metacopy });
  }
  // Snapshot the settled state, as a new process would see it later: forget
  // cached dentries and inodes (see test/fuse/hard-link-attrs.test.ts for why).
  await sh('sync; echo 2 > /proc/sys/vm/drop_caches', '/');
  const merged = snapshot(mnt, { since, dirNlink: false });
  const upper: Record<string, Snap> | null = layers.upperdir
    ? snapshot(layers.upperdir, { since, skipXattr: s.metacopy ? internalXattrMetacopy : internalXattr, dirNlink: false })
    : null;
  return { exit: result.code, out: result.out.split(dir).join('<dir>'), merged, upper };
}

describe('kernel overlayfs and layerfs agree', () => {
  it.each([...scenarios, ...metacopyScenarios])('$name', async (s) => {
    const since = BigInt(Date.now() - 1000) * 1_000_000n;
    const kernel = await runOn('kernel', s, since);
    const layerfs = await runOn('layerfs', s, since);
    expect(layerfs).toEqual(kernel);
  });
});

describe('kernel overlayfs mounts an upper dir layerfs wrote with metacopy=on', () => {
  it.each(metacopyScenarios)('$name', async (s) => {
    const since = BigInt(Date.now() - 1000) * 1_000_000n;
    const kernel = await runOn('kernel', s, since, 'kernel-again');
    const remounted = await runOn('layerfs-then-kernel', s, since);
    expect(remounted.merged).toEqual(kernel.merged);
    expect(remounted.upper).toEqual(kernel.upper);
  });
});
