/**
 * A small busybox image built by the tests themselves from Debian's
 * busybox-static: /bin/busybox with a symlink per applet, a passwd and group
 * with a few users, the usual top-level dirs. Plus helpers to run containers
 * in a throwaway store root and to check that nothing was left behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { LAYERFS_BIN } from '../../helpers/mounts.js';
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Store } from '../../../src/store/store.js';
import { runContainer, type RunOptions, type RunResult } from '../../../src/runtime/run.js';
import { forceUnmount } from '../../../src/runtime/rootfs.js';
import { removeCgroup } from '../../../src/runtime/cgroups.js';
import { configFile, loadNetworkConfig } from '../../../src/runtime/network/config.js';
import { removeBridge } from '../../../src/runtime/network/bridge.js';
import type { ImageConfig } from '../../../src/oci/config.js';
import type { ImageRecord } from '../../../src/store/types.js';
import { tarOf, type TarEntry } from '../../store/fixtures.js';

export const BUSYBOX = '/bin/busybox';

/**
 * Lists a tree from inside a container: path, type, mode, owner, and size and
 * md5 of files or a symlink's target, so two runtimes can be compared.
 */
export const LIST_TREE = [
  'cd / && for p in $(find bin etc home lib newdir root srv tmp var 2>/dev/null | sort); do',
  '  case $p in etc/hosts|etc/hostname|etc/resolv.conf|etc/mtab) continue;; esac; # podman adds these',
  '  if [ -L $p ]; then echo "$p L $(readlink $p)";',
  '  elif [ -d $p ]; then echo "$p D $(stat -c "%a %u %g" $p)";',
  '  else echo "$p F $(stat -c "%a %u %g %s" $p) $(md5sum < $p | cut -c1-32)"; fi;',
  'done',
].join('\n');

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
].join('\n') + '\n';
const GROUP = ['root:x:0:', 'wheel:x:10:app', 'app:x:1000:', 'nogroup:x:65534:'].join('\n') + '\n';

export function busyboxEntries(): TarEntry[] {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  return [
    ...['bin/', 'etc/', 'root/', 'srv/', 'lib/', 'lib/data/', 'var/'].map((name) => ({ name })),
    { name: 'tmp/', mode: 0o1777 },
    { name: 'home/' },
    { name: 'home/app/', uid: 1000, gid: 1000 },
    { name: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 },
    ...applets.map((a) => ({ name: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc/passwd', content: PASSWD },
    { name: 'etc/group', content: GROUP },
    { name: 'etc/motd', content: 'welcome\n' },
    { name: 'lib/data/a', content: 'a\n' },
    { name: 'lib/data/b', content: 'b\n' },
    { name: 'srv/notes', content: 'lower notes\n' },
    { name: 'srv/tool', content: '#!/bin/sh\necho tool\n', mode: 0o644 },
  ];
}

// Adds, changes, deletes, makes an opaque dir (rm -rf a lower dir, recreate it) and chmods a lower file.
export const CHANGES = [
  'echo new > /srv/new',
  'echo more >> /srv/notes',
  'rm /etc/motd',
  'rm -rf /lib/data && mkdir /lib/data && echo c > /lib/data/c',
  'chmod 755 /srv/tool',
  'mkdir -p /newdir/sub && ln -s ../srv/new /newdir/sub/link',
].join(' && ');

/** What `diff` lists for CHANGES. */
export const CHANGES_DIFF = [
  'C /etc', 'D /etc/motd', 'C /lib', 'C /lib/data', 'D /lib/data/a', 'D /lib/data/b', 'A /lib/data/c',
  'A /newdir', 'A /newdir/sub', 'A /newdir/sub/link', 'C /srv', 'A /srv/new', 'C /srv/notes', 'C /srv/tool',
];

export function busyboxConfig(over: NonNullable<ImageConfig['config']> = {}): ImageConfig {
  return {
    architecture: 'amd64',
    os: 'linux',
    created: '2020-01-02T03:04:05Z',
    config: { Env: ['PATH=/bin', 'FROM_IMAGE=yes'], Cmd: ['sh'], ...over },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [{ created: '2020-01-02T03:04:05Z', created_by: 'layerfs tests: busybox-static' }],
  };
}

/** Adds the busybox image to `store` as `tag`. */
export async function addBusybox(store: Store, tag = 'busybox:test', config = busyboxConfig()): Promise<ImageRecord> {
  const layer = await tarOf(busyboxEntries());
  return store.addImage({ config, layers: [() => Readable.from([layer])], tags: [tag] });
}

export interface TempRoot {
  root: string;
  store: Store;
  /**
   * Takes down anything a failed test left (mounts under the root, processes
   * naming it), removes the root, and returns the mounts it found: a passing
   * run returns [].
   */
  cleanup(): Promise<string[]>;
}

/**
 * A bridge and /24 of the test's own (network.json in its root), so a test
 * never touches layerfs0 or another test's bridge; cleanup removes it.
 */
export function testNetworkConfig(root: string): { bridge: string; subnet: string } {
  const config = { bridge: `lft${randomBytes(3).toString('hex')}`, subnet: `10.${randomInt(160, 224)}.${randomInt(0, 256)}.0/24` };
  writeFileSync(configFile(root), JSON.stringify(config) + '\n');
  return config;
}

export async function tempRoot(): Promise<TempRoot> {
  const root = mkdtempSync(join(tmpdir(), 'layerfs-rt-'));
  const store = await Store.open(root);
  testNetworkConfig(root);
  const cleanup = async () => {
    const left = mountsUnder(root);
    for (const pid of processesMentioning(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // Unmounting a namespace file that nothing else holds ends it, and its veth with it.
    for (const m of [...left].reverse()) await forceUnmount(m);
    await removeBridge(await loadNetworkConfig(root));
    // cgroups live outside the root: a container the test did not `rm` would leave its own behind.
    for (const id of existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : []) await removeCgroup(id);
    rmSync(root, { recursive: true, force: true });
    return left;
  };
  return { root, store, cleanup };
}

/** Mount points under `root` still in /proc/mounts. */
export function mountsUnder(root: string): string[] {
  return readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root));
}

/** Processes whose command line mentions `text` (a container's dir). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)) pids.push(Number(p));
    } catch {
      // it exited meanwhile
    }
  }
  return pids;
}

/** Runs a container with its output captured (kernel overlayfs unless told otherwise). */
export async function runCaptured(root: string, opts: Omit<RunOptions, 'root' | 'stdout' | 'stderr'>): Promise<Captured> {
  const dir = mkdtempSync(join(tmpdir(), 'layerfs-out-'));
  const outFd = openSync(join(dir, 'out'), 'w');
  const errFd = openSync(join(dir, 'err'), 'w');
  const logs: string[] = [];
  try {
    const result = await runContainer({ mounter: 'kernel', log: (m) => logs.push(m), ...opts, root, stdout: outFd, stderr: errFd });
    return { ...result, out: readFileSync(join(dir, 'out'), 'utf8'), err: readFileSync(join(dir, 'err'), 'utf8'), logs };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Captured extends RunResult {
  out: string;
  err: string;
  logs: string[];
}

export interface CliResult { code: number; out: string; err: string }

/** `layerfs ARGS` as a separate process on the store at `root`: exit code, stdout, stderr. */
export async function layerfsCli(root: string, args: string[]): Promise<CliResult> {
  try {
    const r = await promisify(execFile)(process.execPath, [LAYERFS_BIN, ...args], { env: { ...process.env, LAYERFS_ROOT: root } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}
