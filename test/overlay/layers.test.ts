import { execFileSync, spawn } from 'node:child_process';
import { constants as fsc, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { buildLayers, removeRoot, root, snapshotDir, snapshotOverlay, tempRoot, type Fixture } from './tree.js';

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
    new Overlay({ lowerdirs: [...fx.lowers, base], upperdir: fx.upper, workdir: fx.work }).close();
  });
});

describe('one overlay at a time over an upper and work dir', () => {
  let base: string;
  const open: Overlay[] = [];
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => {
    for (const ov of open.splice(0)) ov.close();
    removeRoot(base);
  });
  const overlay = (lowerdirs: string[], upperdir: string, workdir: string) => {
    const ov = new Overlay({ lowerdirs, upperdir, workdir });
    open.push(ov);
    return ov;
  };

  const rows: Array<{ name: string; second: (fx: Fixture) => [string, string]; inUse?: (fx: Fixture) => string }> = [
    { name: 'the same upper and work dirs', second: (fx) => [fx.upper, fx.work], inUse: (fx) => `${fx.work}: workdir is in use by another mount` },
    { name: 'the same workdir, another upper', second: (fx) => [join(fx.base, 'upper2'), fx.work], inUse: (fx) => `${fx.work}: workdir is in use by another mount` },
    { name: 'the same upperdir, another workdir', second: (fx) => [fx.upper, join(fx.base, 'work2')], inUse: (fx) => `${fx.upper}: upperdir is in use by another mount` },
    { name: 'other upper and work dirs', second: (fx) => [join(fx.base, 'upper2'), join(fx.base, 'work2')] },
  ];
  it.each(rows)('a second overlay over $name', ({ second, inUse }) => {
    const fx = buildLayers(base, { lower: [{ f: 'x' }], upper: {} });
    mkdirSync(join(base, 'upper2'));
    mkdirSync(join(base, 'work2'));
    overlay(fx.lowers, fx.upper, fx.work);
    // The first overlay's copy-up in progress: a refused second one must leave it alone.
    writeFileSync(join(fx.work, 'work', '#copy-in-progress'), 'half');
    const [upper, work] = second(fx);
    if (inUse === undefined) {
      overlay(fx.lowers, upper, work);
    } else {
      const message = inUse(fx);
      expect(() => overlay(fx.lowers, upper, work)).toThrow(expect.objectContaining({ code: 'BAD_MOUNT_OPTIONS', message }));
    }
    expect(readFileSync(join(fx.work, 'work', '#copy-in-progress'), 'utf8')).toBe('half');
  });

  it('close() lets the next overlay in (and clear the work directory)', async () => {
    const fx = buildLayers(base, { lower: [{ f: 'x' }], upper: {} });
    const first = overlay(fx.lowers, fx.upper, fx.work);
    await first.chmod('/f', 0o600, root);
    first.close();
    first.close();
    writeFileSync(join(fx.work, 'work', '#stale'), '');
    const again = overlay(fx.lowers, fx.upper, fx.work);
    expect(again.getattr('/f')[0]! & 0o7777).toBe(0o600);
    expect(existsSync(join(fx.work, 'work', '#stale'))).toBe(false);
  });

  it('a lock held by another process is refused too', async () => {
    const fx = buildLayers(base, { lower: [{}], upper: {} });
    const holder = spawn('flock', ['--exclusive', fx.work, 'sleep', '30'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          execFileSync('flock', ['--nonblock', fx.work, 'true']);
        } catch {
          break; // it holds the lock now
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(() => overlay(fx.lowers, fx.upper, fx.work)).toThrow(/workdir is in use by another mount/);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('an upper layer that cannot be written', () => {
  let base: string;
  let unmount: string | undefined;
  let immutable: string | undefined;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => {
    if (unmount !== undefined) execFileSync('umount', [unmount]);
    if (immutable !== undefined) execFileSync('chattr', ['-i', immutable]);
    unmount = immutable = undefined;
    removeRoot(base);
  });

  const rows: Array<{ name: string; setup: (fx: Fixture) => void }> = [
    {
      name: 'a read-only bind mount, work dir never used',
      setup: (fx) => {
        execFileSync('mount', ['--bind', '-o', 'ro', fx.base + '/rw', fx.base + '/rw']);
        unmount = fx.base + '/rw';
      },
    },
    {
      name: 'a read-only bind mount, work dir left by an earlier mount',
      setup: (fx) => {
        mkdirSync(join(fx.work, 'work'));
        execFileSync('mount', ['--bind', '-o', 'ro', fx.base + '/rw', fx.base + '/rw']);
        unmount = fx.base + '/rw';
      },
    },
    {
      name: 'an immutable upper dir',
      setup: (fx) => {
        execFileSync('chattr', ['+i', fx.upper]);
        immutable = fx.upper;
      },
    },
  ];
  it.each(rows)('$name: reads work, every change is EROFS', async ({ setup }) => {
    const lower = join(base, 'lower0');
    mkdirSync(join(base, 'rw'));
    const fx: Fixture = { base, lowers: [lower], upper: join(base, 'rw/upper'), work: join(base, 'rw/work') };
    buildLayers(join(base, 'rw'), { lower: [], upper: { u: 'upper', gone: { whiteout: 'char' } } });
    buildLayers(base, { lower: [{ f: 'x', gone: 'hidden', 'd/y': 'y' }] });
    setup(fx);
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    try {
      expect(ov.readonly).toBe(true);
      expect(await snapshotOverlay(ov)).toEqual({ d: 'dir', 'd/y': 'file:y', f: 'file:x', u: 'file:upper' });
      const changes: Array<() => Promise<unknown>> = [
        () => ov.open('/f', fsc.O_WRONLY, root), () => ov.open('/u', fsc.O_RDWR, root), () => ov.create('/g', 0o644, fsc.O_WRONLY, root),
        () => ov.truncate('/f', 0, root), () => ov.chmod('/u', 0o600, root), () => ov.chown('/f', 1, 1, root),
        () => ov.utimens('/f', [0, 0], [0, 0], root), () => ov.setxattr('/f', 'user.x', Buffer.from('x'), 0, root),
        () => ov.mknod('/p', 0o10644, 0, root), () => ov.mkdir('/e', 0o755, root), () => ov.symlink('x', '/l', root),
        () => ov.link('/f', '/h', root), () => ov.unlink('/f', root), () => ov.unlink('/u', root), () => ov.rmdir('/d', root),
        () => ov.rename('/f', '/z', root),
      ];
      for (const change of changes) await expect(change(), change.toString()).rejects.toMatchObject({ code: 'EROFS' });
      expect(snapshotDir(fx.upper)).toEqual({ u: 'file:upper', gone: 'whiteout' });
    } finally {
      ov.close();
    }
  });
});
