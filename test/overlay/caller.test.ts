import { constants as fsc, writeSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Overlay } from '../../src/overlay/overlay.js';
import { ST, type StatBuf } from '../../src/sys.js';
import { buildLayers, removeRoot, tempRoot } from './tree.js';

const meta = (st: StatBuf) => ({ mode: st[ST.mode]!.toString(8), uid: st[ST.uid], gid: st[ST.gid] });

describe('ownership of new entries', () => {
  let base: string;
  beforeEach(() => { base = tempRoot(); });
  afterEach(() => removeRoot(base));
  const user = { uid: 1000, gid: 1000, pid: 1, umask: 0o022 };

  it('belong to the caller, with the umask applied', async () => {
    const fx = buildLayers(base, { lower: [{}], upper: {} });
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    ov.release(await ov.create('/f', 0o666, fsc.O_WRONLY, user));
    await ov.mkdir('/d', 0o777, user);
    await ov.symlink('x', '/l', user);
    expect(meta(ov.getattr('/f'))).toMatchObject({ mode: '100644', uid: 1000, gid: 1000 });
    expect(meta(ov.getattr('/d'))).toMatchObject({ mode: '40755', uid: 1000, gid: 1000 });
    expect(meta(ov.getattr('/l'))).toMatchObject({ uid: 1000, gid: 1000 });
  });

  it('take the group of a setgid parent; new dirs inherit S_ISGID', async () => {
    const fx = buildLayers(base, { lower: [{ s: { dir: true, mode: 0o2775, gid: 50 } }], upper: {} });
    const ov = new Overlay({ lowerdirs: fx.lowers, upperdir: fx.upper, workdir: fx.work });
    const fd = await ov.create('/s/f', 0o644, fsc.O_WRONLY, user);
    writeSync(fd, 'hi');
    ov.release(fd);
    await ov.mkdir('/s/d', 0o755, user);
    expect(meta(ov.getattr('/s/f'))).toMatchObject({ mode: '100644', uid: 1000, gid: 50 });
    expect(meta(ov.getattr('/s/d'))).toMatchObject({ mode: '42755', uid: 1000, gid: 50 });
  });
});
