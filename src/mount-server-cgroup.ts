/**
 * The mount server serves many callers, so it must not die with the first
 * one's cgroup: systemd stops a unit (a podman service, an fstab mount unit)
 * by killing every process in its cgroup, and would take every other mount
 * down with the server. As root the server moves itself into `layerfs/mountd`,
 * beside the containers' `layerfs/<id>`, in the hierarchies a service manager
 * tracks processes by: the unified (v2) one and v1's `name=systemd`. The v1
 * resource controllers are left as they are.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Moves this process; returns the cgroup dirs it is now in. Throws what a hierarchy refused. */
export function leaveCallerCgroup(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  if ((process.getuid?.() ?? 0) !== 0) return [];
  const moved: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts = ''] = post.split(' ');
    const tracks = fstype === 'cgroup2' || (fstype === 'cgroup' && superOpts.split(',').includes('name=systemd'));
    if (!tracks) continue;
    const dir = join(pre.split(' ')[4]!, 'layerfs', 'mountd');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
    moved.push(dir);
  }
  return moved;
}
