import { describe, expect, it } from 'vitest';
import { formatMountOptions, parseMountOptions, splitEscaped, withAbsolutePaths, type MountOptions } from '../src/mount-options.js';
import { parseIdMapping, toDisk, toShown } from '../src/id-mapping.js';

describe('parseMountOptions', () => {
  const rows: Array<{ name: string; args: string[]; expect: Record<string, unknown> }> = [
    {
      name: 'fuse-overlayfs form, leftmost lowerdir on top',
      args: ['lowerdir=/l1:/l2,upperdir=/u,workdir=/w'],
      expect: { lowerdirs: ['/l1', '/l2'], upperdir: '/u', workdir: '/w', readonly: false, warnings: [] },
    },
    {
      name: 'escaped colon and comma inside paths',
      args: ['lowerdir=/a\\:b:/c\\,d,upperdir=/u\\,x,workdir=/w'],
      expect: { lowerdirs: ['/a:b', '/c,d'], upperdir: '/u,x' },
    },
    {
      name: 'podman container argv: empty option after workdir, volatile',
      args: ['lowerdir=/g/l/AAA:/g/l/BBB,upperdir=/g/ID/diff,workdir=/g/ID/work,,,volatile'],
      expect: { lowerdirs: ['/g/l/AAA', '/g/l/BBB'], volatile: true, warnings: [] },
    },
    {
      name: 'podman read-only image mount: no upperdir',
      args: ['lowerdir=/g/L/diff:/g/L/empty'],
      expect: { readonly: true, lowerdirs: ['/g/L/diff', '/g/L/empty'] },
    },
    {
      name: 'podman user namespace mapping with its leading colon',
      args: ['lowerdir=/l,upperdir=/u,workdir=/w,uidmapping=:0:100000:65536,gidmapping=:0:100000:65536'],
      expect: { uidMapping: [{ disk: 0, shown: 100000, len: 65536 }], gidMapping: [{ disk: 0, shown: 100000, len: 65536 }] },
    },
    {
      name: 'squash options',
      args: ['lowerdir=/l,squash_to_uid=1000,squash_to_gid=100'],
      expect: { squashUid: 1000, squashGid: 100 },
    },
    {
      name: 'several -o arguments, mount(8) extras accepted silently, unknown warned',
      args: ['rw,nosuid,nodev', 'lowerdir=/l,upperdir=/u,workdir=/w,frobnicate=1'],
      expect: { warnings: ["unknown mount option 'frobnicate=1' ignored"] },
    },
    {
      name: 'metacopy=on turns on metadata-only copy-up; off by default and with metacopy=off',
      args: ['lowerdir=/l,upperdir=/u,workdir=/w,metacopy=on,redirect_dir=on'],
      expect: { metacopy: true, warnings: [] },
    },
    { name: 'metacopy=off', args: ['lowerdir=/l,metacopy=off'], expect: { metacopy: false, warnings: [] } },
    { name: 'metacopy is off unless asked for', args: ['lowerdir=/l'], expect: { metacopy: false } },
    {
      name: 'libfuse options pass through',
      args: ['lowerdir=/l,fsname=myimage,max_readahead=1048576'],
      expect: { fuse: ['fsname=myimage', 'max_readahead=1048576'] },
    },
    {
      name: 'cache timeouts: seconds >= 0, fractions too',
      args: ['lowerdir=/l,entry_timeout=0,attr_timeout=1.5,negative_timeout=.25'],
      expect: { fuse: ['entry_timeout=0', 'attr_timeout=1.5', 'negative_timeout=.25'] },
    },
    { name: 'relative directories stay as given (see withAbsolutePaths)', args: ['lowerdir=l:../m,upperdir=u,workdir=w'], expect: { lowerdirs: ['l', '../m'], upperdir: 'u' } },
    { name: 'a later lowerdir= wins', args: ['lowerdir=a:b,upperdir=u,workdir=w', 'lowerdir=/abs/a,workdir=/abs/w'], expect: { lowerdirs: ['/abs/a'], upperdir: 'u', workdir: '/abs/w' } },
  ];
  it.each(rows)('$name', ({ args, expect: want }) => {
    expect(parseMountOptions(args)).toMatchObject(want);
  });

  const bad: Array<{ args: string[]; error: RegExp }> = [
    { args: ['upperdir=/u,workdir=/w'], error: /lowerdir= is required/ },
    { args: ['lowerdir=/l,upperdir=/u'], error: /upperdir= and workdir= go together/ },
    { args: ['lowerdir=/l,uidmapping=0:1'], error: /bad id mapping/ },
    { args: ['lowerdir=/l,squash_to_uid=x'], error: /squash_to_uid=x: not a number/ },
    { args: ['lowerdir=/l,metacopy=yes'], error: /metacopy=yes: use on or off/ },
    { args: ['lowerdir=/l,daemon=mine'], error: /daemon=mine: use shared or own/ },
    // The kernel refuses an empty lower directory ("overlayfs: empty lowerdir").
    { args: ['lowerdir=/l1:'], error: /lowerdir=\/l1:: empty directory in the list/ },
    { args: ['lowerdir=:/l1'], error: /lowerdir=:\/l1: empty directory in the list/ },
    { args: ['lowerdir=/l1::/l2'], error: /lowerdir=\/l1::\/l2: empty directory in the list/ },
    { args: ['lowerdir='], error: /lowerdir=: empty directory in the list/ },
    { args: ['lowerdir=/l,upperdir=,workdir=/w'], error: /upperdir=: empty path/ },
    { args: ['lowerdir=/l,upperdir=/u,workdir='], error: /workdir=: empty path/ },
    { args: ['lowerdir=/l,entry_timeout=-1'], error: /entry_timeout=-1: not a number of seconds >= 0/ },
    { args: ['lowerdir=/l,attr_timeout=-0.5'], error: /attr_timeout=-0.5: not a number of seconds >= 0/ },
    { args: ['lowerdir=/l,negative_timeout=soon'], error: /negative_timeout=soon: not a number of seconds >= 0/ },
    { args: ['lowerdir=/l,entry_timeout='], error: /entry_timeout=: not a number of seconds >= 0/ },
    { args: ['lowerdir=/l,attr_timeout=1e3'], error: /attr_timeout=1e3: not a number/ },
  ];
  it.each(bad)('rejects $args', ({ args, error }) => {
    expect(() => parseMountOptions(args)).toThrow(error);
  });
});

describe('withAbsolutePaths: relative directories are relative to the working directory', () => {
  const rows: Array<{ args: string; cwd: string; want: Pick<MountOptions, 'lowerdirs' | 'upperdir' | 'workdir'> }> = [
    { args: 'lowerdir=l1:/abs/l2,upperdir=u,workdir=w', cwd: '/home/me', want: { lowerdirs: ['/home/me/l1', '/abs/l2'], upperdir: '/home/me/u', workdir: '/home/me/w' } },
    { args: 'lowerdir=../l:./x/y', cwd: '/a/b', want: { lowerdirs: ['/a/b/../l', '/a/b/./x/y'], upperdir: undefined, workdir: undefined } },
    { args: 'lowerdir=l', cwd: '/', want: { lowerdirs: ['/l'], upperdir: undefined, workdir: undefined } },
    { args: 'lowerdir=/l,upperdir=a\\:b,workdir=c\\,d', cwd: '/x', want: { lowerdirs: ['/l'], upperdir: '/x/a:b', workdir: '/x/c,d' } },
  ];
  it.each(rows)('$args in $cwd', ({ args, cwd, want }) => {
    expect(withAbsolutePaths(parseMountOptions([args]), cwd)).toMatchObject(want);
  });

  it('formatMountOptions appended to the options gives the daemon the same absolute directories', () => {
    const dirs = { lowerdirs: ['/a:b/l1', '/c,d/l2', '/e\\f'], upperdir: '/u:1,2', workdir: '/w\\:' };
    const given = ['lowerdir=x:y,upperdir=u,workdir=w,metacopy=on'];
    const again = parseMountOptions([...given, formatMountOptions(dirs)]);
    expect(again).toMatchObject({ ...dirs, metacopy: true });
  });
});

describe('formatMountOptions, the inverse of parseMountOptions', () => {
  const map = [{ disk: 0, shown: 100000, len: 65536 }];
  it.each([
    { name: 'read-only', o: { lowerdirs: ['/l1', '/l2'] } },
    { name: 'escaped paths', o: { lowerdirs: ['/a:b', '/c,d'], upperdir: '/u\\x', workdir: '/w' } },
    { name: 'every typed option', o: { lowerdirs: ['/l'], upperdir: '/u', workdir: '/w', volatile: true, metacopy: true, uidMapping: map, gidMapping: map, squashUid: 0, squashGid: 5, fuse: ['fsname=x', 'threads=2'] } },
    { name: 'a process of its own', o: { lowerdirs: ['/l'], daemon: 'own' as const } },
  ])('$name', ({ o }) => {
    const text = formatMountOptions(o);
    const { warnings, ...back } = parseMountOptions([text]);
    expect(warnings).toEqual([]);
    expect(back).toEqual({ readonly: o.upperdir === undefined, volatile: false, metacopy: false, daemon: 'shared', fuse: [], ...o });
    expect(formatMountOptions(back)).toBe(text);
  });
});

describe('splitEscaped', () => {
  it.each([
    ['a:b', ['a', 'b']],
    ['a\\:b:c', ['a:b', 'c']],
    ['a\\\\:b', ['a\\', 'b']],
    ['', ['']],
  ])('%s', (input, want) => expect(splitEscaped(input, ':')).toEqual(want));
});

describe('id mapping', () => {
  const map = parseIdMapping('0:1000:1:1:110000:65536');
  it.each([
    [0, 1000],
    [1, 110000],
    [65536, 175535],
    [70000, 65534],
  ])('disk %i is shown as %i', (disk, shown) => expect(toShown(map, disk)).toBe(shown));
  it.each([
    [1000, 0],
    [110005, 6],
    [42, 42],
  ])('shown %i is stored as %i', (shown, disk) => expect(toDisk(map, shown)).toBe(disk));
});

describe('command line forms', async () => {
  const { withGlobalRoot } = await import('../src/cli/main.js');
  const names = new Set(['mount', 'run', 'images']);
  it.each([
    [['-o', 'lowerdir=/l', '/m'], ['mount', '-o', 'lowerdir=/l', '/m']],
    [['src', '/m', '-o', 'lowerdir=/l'], ['mount', 'src', '/m', '-o', 'lowerdir=/l']],
    [['--root', '/r', 'images'], ['images', '--root', '/r']],
    [['--root=/r', 'run', 'img', 'sh', '-c', 'ls'], ['run', '--root=/r', 'img', 'sh', '-c', 'ls']],
    [['--version'], ['--version']],
    [['-olowerdir=/l', '/m'], ['mount', '-olowerdir=/l', '/m']],
    [['imagez'], ['imagez']],
  ])('%j is read as %j', (argv, want) => expect(withGlobalRoot(argv, names)).toEqual(want));
});
