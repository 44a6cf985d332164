/**
 * The mount server's list of the mount points it serves (`owned-NS-PID` in its
 * directory, see mountd-paths.ts), kept so that the next server can clean up
 * after one that died: the kernel aborted those connections (every access
 * answers ENOTCONN), but the dead mounts stay in the mount table until
 * someone unmounts them.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from './fuse/engine-native.js';

const MNT_DETACH = 2;

export class MountLedger {
  private readonly file: string;
  private readonly points = new Map<string, number>();

  /** `ns`: this process's namespaces (mountd-paths.ts); only lists of the same are swept. */
  constructor(private readonly dir: string, private readonly ns: string) {
    this.file = join(dir, `owned-${ns}-${process.pid}`);
  }

  /** Written before the mount is made, so a crash in mount(2) leaves a trace too. */
  add(mountpoint: string): void {
    this.points.set(mountpoint, (this.points.get(mountpoint) ?? 0) + 1);
    this.save();
  }

  remove(mountpoint: string): void {
    const n = (this.points.get(mountpoint) ?? 0) - 1;
    if (n > 0) this.points.set(mountpoint, n);
    else this.points.delete(mountpoint);
    this.save();
  }

  /** The server's end: nothing of it is left to clean up. */
  drop(): void {
    rmSync(this.file, { force: true });
  }

  private save(): void {
    if (this.points.size === 0) return this.drop();
    writeFileSync(`${this.file}.tmp`, [...this.points.keys()].join('\n') + '\n');
    renameSync(`${this.file}.tmp`, this.file);
  }

  /**
   * Detaches the dead mounts of servers no longer running: only a mount point
   * that answers ENOTCONN (an aborted FUSE connection) is touched, so one
   * mounted again since, by anyone, stays. Returns the mount points detached.
   */
  sweep(): string[] {
    const swept: string[] = [];
    for (const name of readdirSync(this.dir)) {
      const pid = new RegExp(`^owned-${this.ns}-(\\d+)$`).exec(name)?.[1];
      if (pid === undefined || Number(pid) === process.pid || alive(Number(pid))) continue;
      const file = join(this.dir, name);
      for (const mountpoint of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
        if (dead(mountpoint) && detach(mountpoint)) swept.push(mountpoint);
      }
      rmSync(file, { force: true });
    }
    return swept;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function dead(mountpoint: string): boolean {
  try {
    statSync(mountpoint);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

/** umount -l: the mount leaves the tree now, and ends once nobody uses it. */
export function detach(mountpoint: string): boolean {
  if ((process.getuid?.() ?? 0) === 0) return native.umount(mountpoint, MNT_DETACH) === 0;
  return spawnSync('fusermount', ['-u', '-z', mountpoint], { stdio: 'ignore' }).status === 0;
}
