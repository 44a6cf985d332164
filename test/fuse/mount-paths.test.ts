/**
 * Every way a mount is made ends up on layerfs's own engine: our command line,
 * mount(8) with -t fuse.layerfs (mount.fuse3 runs the installed `layerfs`),
 * an fstab line, podman's mount_program argv, and a non-root user through
 * fusermount3. test/cli/mount.test.ts covers the command lines themselves;
 * here each mount must show the engine at work: a reader thread per clone of
 * /dev/fuse in the daemon, and a hard link's new count on the old name at once
 * (libfuse 2 showed the old one for attr_timeout).
 *
 * The non-root rows change /etc/fuse.conf and, where /dev/fuse is root's alone,
 * its mode for their duration, and restore both.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMounted, LAYERFS_BIN, sh, track, unmountAll } from '../helpers/mounts.js';
import { daemonPid, fdsOf } from '../helpers/fresh-mount.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'layerfs-paths-'));
chmodSync(root, 0o755); // the non-root rows' user must reach its dirs
afterEach(unmountAll);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function dirs(owner = 0) {
  const d = join(root, String(n++));
  const f = { d, l: join(d, 'l'), u: join(d, 'u'), w: join(d, 'w'), m: join(d, 'm') };
  for (const p of [f.d, f.l, f.u, f.w, f.m]) {
    mkdirSync(p, { recursive: true });
    chownSync(p, owner, owner);
  }
  writeFileSync(join(f.l, 'from-lower'), 'lower\n');
  return f;
}
type Dirs = ReturnType<typeof dirs>;
const opts = (f: Dirs) => `lowerdir=${f.l},upperdir=${f.u},workdir=${f.w}`;

/** Served by the engine: the link count of `a` is right at once, and the data is shared. */
const ENGINE_AT_WORK = 'cat from-lower && echo x > a && stat -c %h a && ln a b && stat -c %h a && cat b';
const AT_WORK_OUT = 'lower\n1\n2\nx\n';

const rows: Array<{ how: string; mount: (f: Dirs) => Promise<unknown> }> = [
  { how: 'layerfs mount -o OPTS MNT', mount: (f) => run(process.execPath, [LAYERFS_BIN, 'mount', '-o', opts(f), f.m]) },
  { how: 'mount -t fuse.layerfs SRC MNT -o OPTS', mount: (f) => run('mount', ['-t', 'fuse.layerfs', 'myimage', f.m, '-o', opts(f)]) },
  {
    how: 'mount -T FSTAB MNT',
    mount: (f) => {
      writeFileSync(join(f.d, 'fstab'), `myimage ${f.m} fuse.layerfs ${opts(f)},noauto 0 0\n`);
      return run('mount', ['-T', join(f.d, 'fstab'), f.m]);
    },
  },
  { how: "podman's argv: layerfs -o OPTS, MNT", mount: (f) => run('layerfs', ['-o', `${opts(f)},`, f.m]) },
];

describe('each way to mount runs the engine', () => {
  it.each(rows)('$how', async ({ mount }) => {
    const f = dirs();
    track(f.m);
    await mount(f);
    expect(readFileSync('/proc/mounts', 'utf8')).toMatch(new RegExp(`^\\S+ ${f.m} fuse\\.layerfs rw,`, 'm'));
    expect(fdsOf(daemonPid(f.m)).fuse).toBeGreaterThan(1); // libfuse 2 reads one fd
    expect(await sh(ENGINE_AT_WORK, f.m)).toEqual({ code: 0, out: AT_WORK_OUT });
    await run('umount', [f.m]);
    expect(isMounted(f.m)).toBe(false);
  });
});

const NOBODY = 65534;
const FUSE_CONF = '/etc/fuse.conf';

/** Runs `body` with user_allow_other set or not, and /dev/fuse open to all; restores both. */
async function withFuseSetup(allowOther: boolean, body: () => Promise<void>): Promise<void> {
  const conf = readFileSync(FUSE_CONF, 'utf8');
  const mode = statSync('/dev/fuse').mode & 0o7777;
  const lines = conf.split('\n').filter((l) => l.trim() !== 'user_allow_other');
  try {
    writeFileSync(FUSE_CONF, [...lines, ...(allowOther ? ['user_allow_other'] : [])].join('\n') + '\n');
    // fusermount3 opens /dev/fuse as the calling user.
    if ((mode & 0o006) !== 0o006) chmodSync('/dev/fuse', 0o666);
    await body();
  } finally {
    await unmountAll();
    writeFileSync(FUSE_CONF, conf);
    chmodSync('/dev/fuse', mode);
  }
}

const mountAsNobody = (f: Dirs) => sh(`'${process.execPath}' '${LAYERFS_BIN}' mount -o ${opts(f)} ${f.m}`, '/', NOBODY);

describe('a non-root user mounts through fusermount3', () => {
  it('with user_allow_other in /etc/fuse.conf: mounts, serves its owner, unmounts with layerfs umount', async () => {
    await withFuseSetup(true, async () => {
      const f = dirs(NOBODY);
      track(f.m);
      expect(await mountAsNobody(f)).toEqual({ code: 0, out: '' });
      expect(readFileSync('/proc/mounts', 'utf8')).toMatch(new RegExp(`^\\S+ ${f.m} fuse\\.layerfs .*user_id=${NOBODY},`, 'm'));
      expect(await sh(`${ENGINE_AT_WORK} && stat -c %u a`, f.m, NOBODY)).toEqual({ code: 0, out: `${AT_WORK_OUT}${NOBODY}\n` });
      expect(statSync(join(f.u, 'a')).uid).toBe(NOBODY);
      expect(await sh(`'${process.execPath}' '${LAYERFS_BIN}' umount ${f.m}`, '/', NOBODY)).toEqual({ code: 0, out: '' });
      expect(isMounted(f.m)).toBe(false);
    });
  });

  // fusermount3 grants allow_other only with user_allow_other: without it the
  // engine mounts for its owner alone, as other FUSE filesystems do.
  it('without user_allow_other: mounts for its owner only', async () => {
    await withFuseSetup(false, async () => {
      const f = dirs(NOBODY);
      track(f.m);
      expect(await mountAsNobody(f)).toEqual({ code: 0, out: '' });
      expect(readFileSync('/proc/mounts', 'utf8')).not.toMatch(new RegExp(`^\\S+ ${f.m} fuse\\.layerfs .*allow_other`, 'm'));
      // Not even root may enter (the spawn's chdir runs as root), only the owner.
      expect(await sh(`cd ${f.m} && ${ENGINE_AT_WORK} && stat -c %u a`, '/', NOBODY)).toEqual({ code: 0, out: `${AT_WORK_OUT}${NOBODY}\n` });
      expect((await sh('ls', f.m, 0)).code).not.toBe(0);
      expect(await sh(`'${process.execPath}' '${LAYERFS_BIN}' umount ${f.m}`, '/', NOBODY)).toEqual({ code: 0, out: '' });
    });
  });
});
