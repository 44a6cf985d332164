import { constants as fsc, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { buildLayers, removeRoot, root, snapshotDir, tempRoot, type Fixture } from './tree.js';

describe('mount options and read-only overlays', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  it('refuses bad directories with BAD_MOUNT_OPTIONS naming the path', () => {
    const fx = buildLayers(base, { lower: [{}], upper: {} });
    const bad = [
      { lowerdirs: [join(base, 'missing')] },
      { lowerdirs: [] },
      { lowerdirs: fx.lowers, upperdir: fx.upper },
      { lowerdirs: fx.lowers, upperdir: fx.upper, workdir: join(fx.upper, 'w') },
      { lowerdirs: fx.lowers, upperdir: fx.upper, workdir: '/dev/shm' },
      { lowerdirs: [join(fx.lowers[0]!, '..', 'upper', '..', 'lower0')], workdir: fx.work },
    ];
    mkdirSync(join(fx.upper, 'w'));
    for (const opts of bad) {
      expect(() => new Overlay(opts), JSON.stringify(opts)).toThrow(expect.objectContaining({ code: 'BAD_MOUNT_OPTIONS' }));
    }
  });

  it('clears leftovers of an earlier run from the work directory', () => {
    const fx = buildLayers(base, { lower: [{}], upper: {} });
    mkdirSync(join(fx.work, 'work/#stale/x'), { recursive: true });
    new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    expect(snapshotDir(join(fx.work, 'work'))).toEqual({});
  });

  it('answers every change with EROFS when there is no upper', async () => {
    const fx = buildLayers(base, { lower: [{ f: 'x', 'd/y': 'y' }] });
    const ov = new Overlay({ lowerdirs: fx.lowers });
    expect(ov.readonly).toBe(true);
    const changes: Array<() => Promise<unknown>> = [
      () => ov.open('/f', fsc.O_WRONLY, root), () => ov.create('/g', 0o644, fsc.O_WRONLY, root),
      () => ov.truncate('/f', 0, root), () => ov.chmod('/f', 0o600, root), () => ov.chown('/f', 1, 1, root),
      () => ov.utimens('/f', [0, 0], [0, 0], root), () => ov.setxattr('/f', 'user.x', Buffer.from('x'), 0, root),
      () => ov.removexattr('/f', 'user.x', root), () => ov.mknod('/p', 0o10644, 0, root), () => ov.mkdir('/e', 0o755, root),
      () => ov.symlink('x', '/l', root), () => ov.link('/f', '/h', root), () => ov.unlink('/f', root),
      () => ov.rmdir('/d', root), () => ov.rename('/f', '/z', root),
    ];
    for (const change of changes) await expect(change(), change.toString()).rejects.toMatchObject({ code: 'EROFS' });
    const fd = await ov.open('/f', fsc.O_RDONLY, root);
    ov.release(fd);
  });
});

describe('lower layers that the overlay writes', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));

  // The kernel refuses these too: "conflicting lowerdir path", "overlapping lowerdir path".
  const rows: Array<{ name: string; lower: (fx: Fixture) => string; reason: string }> = [
    { name: 'the upperdir itself', lower: (fx) => fx.upper, reason: 'lowerdir is the upperdir' },
    { name: 'the upperdir by another path', lower: (fx) => join(fx.base, 'link-to-upper'), reason: 'lowerdir is the upperdir' },
    { name: 'the upperdir with a trailing slash', lower: (fx) => fx.upper + '/', reason: 'lowerdir is the upperdir' },
    { name: 'the workdir', lower: (fx) => fx.work, reason: 'lowerdir is the workdir' },
    { name: 'inside the upperdir', lower: (fx) => join(fx.upper, 'sub'), reason: 'lowerdir is inside the upperdir' },
    { name: 'inside the workdir', lower: (fx) => join(fx.work, 'work'), reason: 'lowerdir is inside the workdir' },
  ];
  it.each(rows)('refuses a lowerdir that is $name', ({ lower, reason }) => {
    const fx = buildLayers(base, { lower: [{}], upper: { sub: { dir: true } } });
    symlinkSync(fx.upper, join(base, 'link-to-upper'));
    mkdirSync(join(fx.work, 'work'));
    const dir = lower(fx);
    expect(() => new Overlay({ lowerdirs: [...fx.lowers, dir], upperdir: fx.upper, workdir: fx.work }))
      .toThrow(expect.objectContaining({ code: 'BAD_MOUNT_OPTIONS', message: `${dir}: ${reason}`, data: { path: dir, reason } }));
  });

  it('takes a lowerdir beside them, or one holding them', () => {
    const fx = buildLayers(base, { lower: [{}], upper: {} });
    new Overlay({ lowerdirs: [...fx.lowers, base], upperdir: fx.upper, workdir: fx.work });
  });
});
