/**
 * The bench disk: every tree and mount of a run lives on a journaled ext4
 * filesystem of its own, in a sparse image file (`bench/work/disk.img`)
 * attached to a loop device with direct I/O (so its data is cached once, and
 * "cold" really is cold after dropping caches).
 *
 * Why not the work dir's own filesystem: on this VM that is ext4 without a
 * journal, and there ext4's inode allocator skips every inode freed in the
 * last 5 minutes (fs/ext4/ialloc.c, recently_deleted()), scanning past them
 * on each file creation. A measurement that runs after another one deleted its
 * 10k-file upper dir then pays up to 0.6 ms per created file, whichever system
 * it measures (seen in perf: `recently_deleted` on top for layerfs and
 * fuse-overlayfs alike). A journaled ext4, as a Debian install makes it, does
 * not do that. `--disk host` measures on the work dir's filesystem anyway.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './proc.js';
import { isMounted } from './systems.js';

const GiB = 2 ** 30;
const SIZE = 32 * GiB;

export interface BenchDisk {
  /** Where the run's trees and mounts go. */
  root: string;
  /** What the results say about the disk. */
  note: string;
  release(): Promise<void>;
}

export async function mountBenchDisk(work: string, log: (msg: string) => void): Promise<BenchDisk> {
  await mkdir(work, { recursive: true });
  const image = join(work, 'disk.img');
  const root = join(work, 'disk');
  await mkdir(root, { recursive: true });
  if (!isMounted(root)) {
    if (!existsSync(image)) {
      const fs = await statfs(work);
      const size = Math.min(SIZE, Math.floor((fs.bavail * fs.bsize * 0.8) / GiB) * GiB);
      if (size < 4 * GiB) throw new Error(`bench disk: ${work} has too little space for ${image} (use --disk host)`);
      log(`bench disk: making ${image} (${size / GiB} GiB sparse, ext4 with journal)`);
      const f = await open(image, 'wx');
      await f.truncate(size);
      await f.close();
      // Inode tables and journal written now, so no background ext4lazyinit runs during a measurement.
      await run(['mkfs.ext4', '-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image], { timeoutMs: 600_000 });
    }
    const dev = (await run(['losetup', '--direct-io=on', '--find', '--show', image])).stdout.trim();
    try {
      await run(['mount', dev, root]);
    } catch (err) {
      await run(['losetup', '-d', dev]).catch(() => {});
      throw err;
    }
  }
  const dev = (await run(['findmnt', '-n', '-o', 'SOURCE', '--target', root])).stdout.trim();
  return {
    root,
    note: `trees and mounts on the bench disk: ext4 with journal in ${image} on ${dev} (direct I/O); see bench/bench-disk.ts`,
    async release() {
      // Free blocks go back to the host (the image is kept for the next run's trees).
      await run(['fstrim', root], { timeoutMs: 600_000 }).catch((err: Error) => log(`bench disk: fstrim ${root}: ${err.message}`));
      await run(['umount', root]).catch((err: Error) => log(`bench disk: umount ${root}: ${err.message}`));
      // A loop device attached by `losetup --find` is detached by umount only with autoclear; be explicit.
      await run(['losetup', '-d', dev]).catch(() => {});
    },
  };
}
