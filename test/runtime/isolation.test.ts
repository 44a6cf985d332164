/**
 * Isolation as docker's defaults, on real containers: a table of escape
 * attempts from inside a default container, each with what it must give;
 * then the same table under --privileged and --cap-add SYS_ADMIN, where the
 * matching rows succeed. Then capabilities, seccomp options, --read-only
 * and the cgroup limits (OOM kill, pids, CPU quota).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmdir } from 'node:fs/promises';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers } from '../../src/runtime/containers.js';
import { cgroupDirs, createCgroup, DEFAULT_DEVICE_RULES, detectLayout, deviceRule } from '../../src/runtime/cgroups.js';
import { DEFAULT_ISOLATION, parseIsolation, type IsolationFlags, type IsolationOptions } from '../../src/runtime/isolation.js';
import type { RunOptions } from '../../src/runtime/run.js';
import { compileProfile, DEFAULT_PROFILE } from '../../src/runtime/seccomp.js';
import { parseVolume } from '../../src/runtime/rootfs-paths.js';
import { CAPABILITIES, DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';
import { tarOf } from '../store/fixtures.js';
import { busyboxConfig, busyboxEntries, mountsUnder, runCaptured, tempRoot, type TempRoot } from './helpers/busybox.js';

// A static helper for what busybox has no applet for: the effective uid, and ptrace.
const PROBE_C = `
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "euid") == 0) return printf("%d\\n", (int)geteuid()) < 0;
  if (argc == 3 && strcmp(argv[1], "ptrace") == 0) {
    long r = ptrace(PTRACE_ATTACH, atoi(argv[2]), 0, 0);
    printf("%s\\n", r == 0 ? "attached" : strerrorname_np(errno));
    return r != 0;
  }
  if (argc == 3 && strcmp(argv[1], "syscall") == 0) {
    /* A raw syscall docker's profile rules on: its errno name, or OK. */
    long r = -1;
    char buf[256] = {0};
    if (strcmp(argv[2], "fchmodat2") == 0) r = syscall(452, AT_FDCWD, "/tmp", 01777, 0);
    if (strcmp(argv[2], "io_uring_setup") == 0) r = syscall(425, 1, buf);
    if (strcmp(argv[2], "i386_mount") == 0) {
      /* The i386 ABI through int 0x80 (mount is 21 there): the filter covers it too. */
      __asm__ volatile("int $0x80" : "=a"(r) : "a"(21L), "b"(0L), "c"(0L), "d"(0L) : "memory");
      if (r < 0) errno = -r, r = -1;
    }
    if (strcmp(argv[2], "listmount") == 0) r = syscall(458, NULL, NULL, 0, 0);
    if (strcmp(argv[2], "lsm_list_modules") == 0) r = syscall(461, NULL, NULL, 0);
    if (strcmp(argv[2], "af_alg") == 0) r = socket(38, SOCK_SEQPACKET, 0);
    if (strcmp(argv[2], "af_vsock") == 0) r = socket(40, SOCK_STREAM, 0);
    if (strcmp(argv[2], "af_unix") == 0) r = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("%s\\n", r >= 0 ? "OK" : strerrorname_np(errno));
    return 0;
  }
  return 2;
}
`;

let t: TempRoot;
let hostDir: string;

beforeAll(async () => {
  t = await tempRoot();
  writeFileSync(join(t.root, 'probe.c'), PROBE_C);
  execFileSync('gcc', ['-static', '-O2', '-o', join(t.root, 'probe'), join(t.root, 'probe.c')]);
  const layer = await tarOf([...busyboxEntries(), { name: 'bin/probe', content: readFileSync(join(t.root, 'probe')), mode: 0o4755 }]);
  await t.store.addImage({ config: busyboxConfig(), layers: [() => Readable.from([layer])], tags: ['busybox:test'] });
  // A volume with another filesystem mounted below it on the host: `:ro` must reach it too.
  hostDir = join(t.root, 'host-volume');
  mkdirSync(join(hostDir, 'sub'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'below', join(hostDir, 'sub')]);
}, 60_000);

afterAll(async () => {
  execFileSync('umount', [join(hostDir, 'sub')]);
  expect(await t.cleanup()).toEqual([]);
});

const iso = (flags: IsolationFlags = {}) => parseIsolation(flags);

async function run(script: string, isolation: IsolationOptions = DEFAULT_ISOLATION, extra: Partial<RunOptions> = {}) {
  const r = await runCaptured(t.root, { image: 'busybox:test', command: ['sh', '-c', script], remove: true, isolation, ...extra });
  expect(mountsUnder(t.root).filter((m) => !m.startsWith(hostDir))).toEqual([]);
  return r;
}

/**
 * An escape attempt: the script, what it prints in a default container,
 * and what it prints under --privileged and --cap-add SYS_ADMIN (omitted:
 * the same as by default). Scripts print their exit status last.
 */
interface Escape {
  name: string;
  script: string;
  denied: RegExp;
  privileged?: RegExp;
  sysAdmin?: RegExp;
  volume?: boolean;
}

/** `MAJOR MINOR` of a block device of this host (under --privileged, opening it must work). */
function hostBlockDevice(): string {
  const dev = readdirSync('/dev').map((n) => statSync(join('/dev', n))).find((st) => st.isBlockDevice());
  if (!dev) return '7 0';
  return `${(dev.rdev >> 8) & 0xfff} ${(dev.rdev & 0xff) | ((dev.rdev >> 12) & 0xfff00)}`;
}

const ok = /^0\n$/;
const openForWrite = (path: string) => `dd if=/dev/null of=${path} count=0 conv=notrunc 2>/tmp/e; r=$?; grep -v records /tmp/e; echo $r`;
const escapes: Escape[] = [
  { name: 'mount a tmpfs', script: 'mount -t tmpfs x /tmp 2>&1; echo $?', denied: /permission denied.*\n1\n$/, privileged: ok, sysAdmin: ok },
  { name: 'write /proc/sys/kernel/hostname', script: 'echo box > /proc/sys/kernel/hostname 2>&1; echo $?', denied: /Read-only file system\n1\n$/, privileged: ok },
  // Opened for writing, never written (both are the host's): dd with count=0 writes nothing.
  { name: 'write /proc/sys/kernel/core_pattern', script: `${openForWrite('/proc/sys/kernel/core_pattern')}`, denied: /Read-only file system\n1\n$/, privileged: ok },
  { name: 'write /sys (transparent_hugepage)', script: `${openForWrite('/sys/kernel/mm/transparent_hugepage/enabled')}`, denied: /Read-only file system\n1\n$/, privileged: ok },
  { name: 'mount -o remount,rw /sys', script: 'mount -o remount,rw /sys 2>&1; echo $?', denied: /permission denied.*\n1\n$/, privileged: ok, sysAdmin: ok },
  { name: 'read /proc/kcore, /proc/keys, /proc/timer_list', script: 'cat /proc/kcore /proc/keys /proc/timer_list 2>/dev/null | head -c 100 | wc -c', denied: /^0\n$/, privileged: /^100\n$/ },
  { name: '/proc/acpi and /sys/firmware are empty', script: 'ls /proc/acpi /sys/firmware | wc -w', denied: /^2\n$/, privileged: /^([3-9]|\d\d+)\n$/ },
  { name: 'dmesg', script: 'dmesg > /dev/null 2>&1; echo $?', denied: /^1\n$/, privileged: ok },
  { name: 'load a module', script: 'insmod /bin/busybox 2>&1; echo $?', denied: /Operation not permitted\n1\n$/, privileged: /^(?![\s\S]*not permitted)[\s\S]*\n[1-9]\d*\n$/ },
  { name: 'unshare -U', script: 'unshare -U true 2>&1; echo $?', denied: /Operation not permitted\n1\n$/, privileged: ok, sysAdmin: ok },
  { name: 'mknod /dev/kmsg, open it for writing', script: 'mknod /tmp/kmsg c 1 11 && echo -n > /tmp/kmsg; echo $?', denied: /Operation not permitted\n1\n$/, privileged: ok },
  { name: 'mknod a block device, open it', script: `mknod /tmp/disk b ${hostBlockDevice()} && head -c 0 /tmp/disk; echo $?`, denied: /Operation not permitted\n1\n$/, privileged: ok },
  { name: 'the host devices are absent', script: 'ls /dev | wc -l', denied: /^15\n$/, privileged: /^([2-9]\d|\d{3,})\n$/ },
  { name: 'write below a :ro volume into a mount under it', script: 'touch /data/sub/x 2>&1; echo $?', denied: /Read-only file system\n1\n$/, volume: true },
  { name: 'ptrace a process outside the container', script: `probe ptrace ${process.pid}`, denied: /^ESRCH\n$/ },
  // Docker allows ptrace between the container's own processes (kernel >= 4.8): so must we.
  { name: 'ptrace inside the container still works', script: 'sleep 5 & probe ptrace $!', denied: /^attached\n$/ },
];

describe('escape attempts', () => {
  const variants: Array<{ label: string; flags: IsolationFlags; expect: (e: Escape) => RegExp }> = [
    { label: 'default', flags: {}, expect: (e) => e.denied },
    { label: '--privileged', flags: { privileged: true }, expect: (e) => e.privileged ?? e.denied },
    { label: '--cap-add SYS_ADMIN', flags: { capAdd: ['SYS_ADMIN'] }, expect: (e) => e.sysAdmin ?? e.denied },
  ];
  for (const v of variants) {
    describe(v.label, () => {
      for (const e of escapes) {
        // dmesg and /dev under SYS_ADMIN: still refused (CAP_SYSLOG, the device cgroup), as with docker.
        it(e.name, async () => {
          const r = await run(e.script, await iso(v.flags), e.volume ? { volumes: [`${hostDir}:/data:ro`] } : {});
          expect(r.err + r.out).toMatch(v.expect(e));
        });
      }
    });
  }

  it('no-new-privileges: a -u 1000 process gains no root through a setuid-root binary', async () => {
    // Without it docker lets setuid programs work (su): euid 0, with the default capabilities only.
    expect((await run('probe euid', DEFAULT_ISOLATION, { user: '1000' })).out).toBe('0\n');
    const r = await run('probe euid; grep NoNewPrivs /proc/self/status', await iso({ securityOpt: ['no-new-privileges'] }), { user: '1000' });
    expect(r.out).toBe('1000\nNoNewPrivs:\t1\n');
  });
});

const status = (field: string) => `grep ^${field}: /proc/self/status | cut -f2`;

describe('--device', () => {
  // /dev/fuse (c 10:229) is not in docker's default list: opening one made by mknod is refused (the row above, for kmsg).
  const rows: Array<{ name: string; device: string[]; script: string; out: string | RegExp }> = [
    { name: 'a host device (its numbers and mode), opened for reading and writing', device: ['/dev/fuse'], script: 'stat -c "%A %t:%T" /dev/fuse; exec 3<>/dev/fuse && echo opened', out: `${execFileSync('stat', ['-c', '%A %t:%T', '/dev/fuse'], { encoding: 'utf8' })}opened\n` },
    { name: 'under another name, in a directory made for it', device: ['/dev/fuse:/dev/x/myfuse'], script: 'exec 3<>/dev/x/myfuse && echo opened', out: 'opened\n' },
    { name: 'read-only: opening it for writing is refused', device: ['/dev/fuse:r'], script: '(exec 3</dev/fuse) && echo read; (exec 3<>/dev/fuse) 2>&1 | sed "s/.*: //"', out: 'read\nOperation not permitted\n' },
    { name: 'without it: absent, and a node made for it cannot be opened', device: [], script: 'ls /dev/fuse 2>/dev/null; mknod /tmp/f c 10 229 && (exec 3<>/tmp/f) 2>&1 | sed "s/.*: //"', out: 'Operation not permitted\n' },
  ];
  it.each(rows)('$name', async ({ device, script, out }) => {
    const r = await run(script, await iso({ device }));
    if (typeof out === 'string') expect(r.out, r.err).toBe(out);
    else expect(r.out, r.err).toMatch(out);
  });

  it('a container path through a symlink of the image fails the start: the node is never made, nor what is there removed, on the host', async () => {
    const target = join(t.root, 'device-target');
    mkdirSync(target);
    writeFileSync(join(target, 'victim'), 'host\n');
    const layer = await tarOf([...busyboxEntries(), { name: 'evil', type: 'symlink', linkname: target }]);
    await t.store.addImage({ config: busyboxConfig(), layers: [() => Readable.from([layer])], tags: ['linked:test'] });
    const r = await run('true', await iso({ device: ['/dev/fuse:/evil/victim'] }), { image: 'linked:test' });
    expect(r).toMatchObject({ exitCode: 125, error: expect.stringContaining('a symlink in the image is not followed) /evil/victim') });
    expect(readFileSync(join(target, 'victim'), 'utf8')).toBe('host\n');
  });

  it.each([
    { device: '/dev/nope', error: 'error gathering device information while adding custom device "/dev/nope": no such file or directory' },
    { device: '/etc/passwd', error: 'error gathering device information while adding custom device "/etc/passwd": not a device node' },
    { device: '/dev/fuse:/dev/f:rx', error: "invalid --device '/dev/fuse:/dev/f:rx': PERMS is a combination of r, w and m" },
  ])('--device $device: $error', async ({ device, error }) => {
    await expect(iso({ device: [device] })).rejects.toThrow(error);
  });
});

describe('--ulimit and --shm-size', () => {
  it.each([
    { flags: { ulimit: ['nofile=1024:2048'] }, script: 'ulimit -Sn; ulimit -Hn', out: '1024\n2048\n' },
    // For a -u user too: init sets the limits before it drops to the user.
    { flags: { ulimit: ['nofile=4096'], user: '1000' }, script: 'ulimit -Sn; ulimit -Hn', out: '4096\n4096\n' },
    { flags: { ulimit: ['core=-1', 'core=unlimited'] }, script: 'ulimit -Hc', out: 'unlimited\n' },
    { flags: { shmSize: '2m' }, script: 'grep " /dev/shm " /proc/mounts | cut -d" " -f4', out: 'rw,nosuid,nodev,noexec,relatime,size=2048k\n' },
    { flags: {}, script: 'grep " /dev/shm " /proc/mounts | cut -d" " -f4', out: 'rw,nosuid,nodev,noexec,relatime,size=65536k\n' },
  ])('$flags', async ({ flags, script, out }) => {
    const { user, ...isoFlags } = flags as IsolationFlags & { user?: string };
    const r = await run(script, await iso(isoFlags), user ? { user } : {});
    expect(r.out, r.err).toBe(out);
  });

  it.each([
    { flags: { ulimit: ['nofile=2048:1024'] }, error: "invalid --ulimit 'nofile=2048:1024': the soft limit 2048 is above the hard limit 1024" },
    { flags: { ulimit: ['files=1'] }, error: "invalid --ulimit 'files=1': expected NAME=SOFT[:HARD]" },
    { flags: { shmSize: 'lots' }, error: "invalid --shm-size 'lots': expected a size such as 64m or 1g" },
  ])('$flags: $error', async ({ flags, error }) => {
    await expect(iso(flags)).rejects.toThrow(error);
  });
});

describe('capabilities and seccomp', () => {
  const rows: Array<{ name: string; flags: IsolationFlags; user?: string; script: string; out: string | RegExp }> = [
    // Inheritable empty, as docker since CVE-2022-24769 (moby 20.10.14, runc 1.1.1).
    { name: "root: docker's 14 bounding, permitted, effective; none inheritable or ambient", flags: {}, script: ['CapBnd', 'CapPrm', 'CapEff', 'CapInh', 'CapAmb'].map(status).join(';'), out: '00000000a80425fb\n'.repeat(3) + '0000000000000000\n'.repeat(2) },
    { name: 'a -u user: none, bounding as root', flags: {}, user: '1000', script: ['CapBnd', 'CapPrm', 'CapEff', 'CapInh'].map(status).join(';'), out: '00000000a80425fb\n' + '0000000000000000\n'.repeat(3) },
    { name: '--cap-add net_admin --cap-drop CAP_CHOWN', flags: { capAdd: ['net_admin'], capDrop: ['CAP_CHOWN'] }, script: status('CapEff'), out: '00000000a80435fa\n' },
    { name: '--cap-drop ALL --cap-add CHOWN', flags: { capDrop: ['ALL'], capAdd: ['CHOWN'] }, script: status('CapEff'), out: '0000000000000001\n' },
    { name: 'the default seccomp filter is on', flags: {}, script: status('Seccomp'), out: '2\n' },
    // moby's default.json: fchmodat2 allowed (glibc >= 2.39 calls it for lchmod), io_uring and AF_ALG/AF_VSOCK sockets denied;
    // listmount (newer than this libseccomp) reaches the kernel (EFAULT for its NULL request), lsm_* only with SYS_ADMIN.
    { name: 'seccomp as docker: fchmodat2 yes; io_uring, AF_ALG, AF_VSOCK no; AF_UNIX yes; listmount yes; lsm_* no', flags: {}, script: ['fchmodat2', 'io_uring_setup', 'af_alg', 'af_vsock', 'af_unix', 'listmount', 'lsm_list_modules', 'i386_mount'].map((c) => `probe syscall ${c}`).join(';'), out: 'OK\nEPERM\nEPERM\nEPERM\nOK\nEFAULT\nEPERM\nEPERM\n' },
    { name: 'seccomp=unconfined: the i386 ABI reaches the kernel', flags: { securityOpt: ['seccomp=unconfined'] }, script: 'probe syscall i386_mount', out: 'EFAULT\n' },
    { name: 'seccomp with SYS_ADMIN: lsm_list_modules reaches the kernel', flags: { capAdd: ['SYS_ADMIN'] }, script: 'probe syscall lsm_list_modules', out: 'EFAULT\n' },
    { name: '/dev/mqueue and /dev/pts (group tty) as docker mounts them', flags: {}, script: 'grep -E " /dev/(mqueue|pts) " /proc/mounts', out: 'devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666 0 0\nmqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime 0 0\n' },
    { name: 'seccomp=unconfined', flags: { securityOpt: ['seccomp=unconfined'] }, script: status('Seccomp'), out: '0\n' },
    { name: 'clone3 answers ENOSYS, so libc falls back to clone: threads and forks work', flags: {}, script: 'sh -c "echo child" & wait', out: 'child\n' },
    { name: 'systempaths=unconfined lifts the masks', flags: { securityOpt: ['systempaths=unconfined'] }, script: 'head -c 10 /proc/timer_list | wc -c', out: '10\n' },
    { name: '--read-only: the root refuses writes, /dev/shm and volumes do not', flags: { readOnly: true }, script: 'touch /x 2>&1; touch /dev/shm/x && echo shm-ok', out: /Read-only file system\nshm-ok\n$/ },
    { name: 'the cgroup is visible read-only at /sys/fs/cgroup', flags: { pidsLimit: '33' }, script: 'cat /sys/fs/cgroup/pids/pids.max; echo 1 > /sys/fs/cgroup/pids/pids.max', out: /^33\nsh: .*Read-only file system\n$/ },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const r = await run(row.script, await iso(row.flags), row.user ? { user: row.user } : {});
      if (typeof row.out === 'string') expect(r.out).toBe(row.out);
      else expect(r.out + r.err).toMatch(row.out);
    });
  }

  it('seccomp=FILE: a docker-format profile, unknown syscall names skipped', async () => {
    const file = join(t.root, 'profile.json');
    writeFileSync(file, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [
        { names: ['mkdir', 'mkdirat', 'no_such_syscall_at_all'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['arm_only'], action: 'SCMP_ACT_ERRNO', includes: { arches: ['arm64'] } },
      ],
    }));
    const r = await run('mkdir /tmp/d 2>&1; echo $?', await iso({ securityOpt: [`seccomp=${file}`] }));
    expect(r.out).toMatch(/Permission denied\n1\n$/);
  });
});

describe('cgroup limits', () => {
  it('--memory 64m: a process holding 200 MB is OOM-killed: 137 and OOMKilled', async () => {
    // busybox tail keeps the last 200 MB of an endless stream in memory.
    const r = await runCaptured(t.root, { image: 'busybox:test', command: ['tail', '-c', '200m', '/dev/zero'], name: 'oom', isolation: await iso({ memory: '64m' }) });
    expect(r.exitCode).toBe(137);
    const state = (await listContainers(t.root)).find((c) => c.name === 'oom');
    expect(state).toMatchObject({ exitCode: 137, oomKilled: true, isolation: { limits: { memory: 64 * 1024 * 1024 } } });
  });

  it('--pids-limit 20 stops a fork loop', async () => {
    const r = await run('i=0; while [ $i -lt 50 ]; do sleep 2 & i=$((i+1)); done 2>&1 | head -1; ps | grep -c sleep', await iso({ pidsLimit: '20' }));
    expect(r.out).toMatch(/can't fork: Resource temporarily unavailable\n/);
    expect(Number(r.out.trim().split('\n').pop())).toBeLessThan(20);
  });

  it('--cpus 0.5 and --cpu-shares 512 are the cgroup quota and shares; the cgroup goes with the container', async () => {
    let seen = '';
    const r = await runCaptured(t.root, {
      image: 'busybox:test', command: ['cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu/cpu.shares'], remove: true,
      isolation: await iso({ cpus: '0.5', cpuShares: '512' }),
      onStart: (s) => (seen = cgroupDirs(s.id).join(' ')),
    });
    expect(r.out).toBe('50000\n512\n');
    expect(seen).toMatch(/\/layerfs\/[0-9a-f]{64}/);
    for (const dir of seen.split(' ')) expect(existsSync(dir)).toBe(false);
  });

  it('--memory 64m --memory-swap 128m: the v1 memory and memory+swap limits', async () => {
    const r = await run('cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes', await iso({ memory: '64m', memorySwap: '128m' }));
    expect(r.out).toBe('67108864\n134217728\n');
  });

  it('hello-world and exit codes are unchanged', async () => {
    const hello = await runCaptured(t.root, { image: 'hello-world', remove: true });
    expect(hello.exitCode).toBe(0);
    expect(hello.out).toMatch(/Hello from/);
    expect((await run('exit 42')).exitCode).toBe(42);
    expect((await run("sh -c 'kill -9 $$'; exit $?")).exitCode).toBe(137);
  });
});

describe('seccomp profile', () => {
  it("every syscall name of the default profile is known to this libseccomp or has its number (an unknown one would be skipped silently)", () => {
    writeFileSync(join(t.root, 'resolve.c'), [
      '#include <seccomp.h>', '#include <stdio.h>',
      'int main(void) { char n[128]; while (scanf("%127s", n) == 1) if (seccomp_syscall_resolve_name(n) == __NR_SCMP_ERROR) puts(n); return 0; }',
    ].join('\n'));
    execFileSync('gcc', ['-o', join(t.root, 'resolve'), join(t.root, 'resolve.c'), '-lseccomp']);
    const names = [...new Set(DEFAULT_PROFILE.rules.flatMap((r) => r.names))];
    expect(names.length).toBeGreaterThan(350);
    // What init reads: with every capability, every rule is there; NAME=NR carries its own number.
    const compiled = compileProfile(DEFAULT_PROFILE, CAPABILITIES).split('\n').filter((l) => !/^(default|arch) /.test(l)).map((l) => l.split(' ')[1] ?? '');
    expect(compiled.filter((n) => n.includes('=')).sort()).toEqual(['listmount=458', 'lsm_get_self_attr=459', 'lsm_list_modules=461', 'lsm_set_self_attr=460', 'mseal=462', 'statmount=457'].concat(['getxattrat=464', 'listxattrat=465', 'removexattrat=466', 'setxattrat=463', 'uretprobe=335']).sort());
    expect(execFileSync(join(t.root, 'resolve'), { input: compiled.filter((n) => n && !n.includes('=')).join('\n'), encoding: 'utf8' })).toBe('');
  });

  it('compiles per capability set: mount only with SYS_ADMIN, clone3 ENOSYS only without', () => {
    const plain = compileProfile(DEFAULT_PROFILE, DEFAULT_CAPABILITIES).split('\n');
    const admin = compileProfile(DEFAULT_PROFILE, [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']).split('\n');
    expect(plain.slice(0, 3)).toEqual(['default errno:1', 'arch x86', 'arch x32']);
    expect(plain).not.toContain('allow mount');
    expect(plain).toContain('errno:38 clone3');
    expect(plain).toContain('allow clone 0 masked_eq 2114060288 0');
    expect(admin).toContain('allow mount');
    expect(admin).toContain('allow clone');
    expect(admin).not.toContain('errno:38 clone3');
  });
});

describe('cgroup layouts', () => {
  const line = (mp: string, type: string, opts: string) => `30 23 0:28 / ${mp} rw,relatime - ${type} ${type} ${opts}`;
  const hybrid = [
    line('/sys/fs/cgroup/cpu', 'cgroup', 'rw,cpu'), line('/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
    line('/sys/fs/cgroup/devices', 'cgroup', 'rw,devices'), line('/sys/fs/cgroup/systemd', 'cgroup', 'rw,name=systemd'),
    line('/nonexistent/unified', 'cgroup2', 'rw'),
  ].join('\n');
  const id = 'a'.repeat(64);

  it('hybrid: each controller from its v1 hierarchy, no v2 dir when v2 has no controllers', () => {
    const layout = detectLayout(hybrid);
    expect(layout.v1).toEqual({ cpu: '/sys/fs/cgroup/cpu', memory: '/sys/fs/cgroup/memory', devices: '/sys/fs/cgroup/devices' });
    expect(layout.v2).toEqual({ path: '/nonexistent/unified', controllers: [] });
    expect(cgroupDirs(id, layout)).toEqual(['cpu', 'memory', 'devices'].map((c) => `/sys/fs/cgroup/${c}/layerfs/${id}`));
  });

  it('v2 controllers fill in what v1 lacks; a pure v2 host gets one dir', () => {
    expect(cgroupDirs(id, { v1: { memory: '/m' }, v2: { path: '/u', controllers: ['memory', 'pids'] } })).toEqual([`/m/layerfs/${id}`, `/u/layerfs/${id}`]);
    expect(cgroupDirs(id, { v1: {}, v2: { path: '/sys/fs/cgroup', controllers: ['cpu', 'memory', 'pids'] } })).toEqual([`/sys/fs/cgroup/layerfs/${id}`]);
  });
});

describe('cgroup v2 device program', () => {
  // This host's devices controller is v1; a layout without it makes createCgroup use the v2 program, which the kernel enforces too.
  const v2 = detectLayout().v2;
  it.runIf(v2 !== undefined)("allows docker's devices only: /dev/null yes, a made /dev/kmsg no (mknod itself yes)", async () => {
    const id = randomBytes(32).toString('hex');
    const cg = await createCgroup(id, {}, DEFAULT_DEVICE_RULES, { v1: {}, v2: v2! });
    const dir = join(t.root, 'v2dev');
    mkdirSync(dir);
    try {
      expect(cg.dirs).toEqual([join(v2!.path, 'layerfs', id)]);
      const script = [
        `echo $$ > ${cg.dirs[0]}/cgroup.procs`,
        'head -c 1 /dev/zero | wc -c',
        `mknod ${dir}/kmsg c 1 11 && echo mknod-ok`,
        `(echo -n > ${dir}/kmsg) 2>&1 | sed 's/.*: //'`,
        `mknod ${dir}/disk b ${hostBlockDevice()} && (head -c 0 ${dir}/disk) 2>&1 | sed 's/.*: //'`,
      ].join('; ');
      expect(execFileSync('sh', ['-c', script], { encoding: 'utf8' })).toBe('1\nmknod-ok\nOperation not permitted\nOperation not permitted\n');
    } finally {
      await cg.remove();
      // The runtime never makes a v2 parent on a hybrid host: this test's own, unless another test uses it now.
      await rmdir(join(v2!.path, 'layerfs')).catch(() => {});
    }
    expect(existsSync(cg.dirs[0]!)).toBe(false);
  });

  it('rules in the program\'s terms', () => {
    expect(DEFAULT_DEVICE_RULES.map(deviceRule).slice(0, 3)).toEqual([
      { type: 2, major: -1, minor: -1, access: 1 }, { type: 1, major: -1, minor: -1, access: 1 }, { type: 2, major: 1, minor: 3, access: 7 },
    ]);
  });
});

describe('flag parsing', () => {
  const bad: Array<[IsolationFlags, RegExp]> = [
    [{ capAdd: ['NOPE'] }, /^unknown capability: 'NOPE'$/],
    [{ securityOpt: ['bogus'] }, /^invalid --security-opt 'bogus'/],
    [{ securityOpt: ['seccomp=/no/such.json'] }, /^opening seccomp profile \/no\/such.json: no such file$/],
    [{ memory: 'lots' }, /^invalid --memory 'lots'/],
    [{ memory: '1m' }, /the minimum is 6m$/],
    [{ memorySwap: '1g' }, /^--memory-swap needs --memory too$/],
    [{ memory: '1g', memorySwap: '512m' }, /it must be at least --memory$/],
    [{ cpus: '0' }, /^invalid --cpus '0': the range is 0.01 to \d+$/],
    [{ cpuShares: '1' }, /the range is 2 to 262144$/],
    [{ pidsLimit: 'x' }, /^invalid --pids-limit 'x'/],
  ];
  for (const [flags, message] of bad) {
    it(`refuses ${JSON.stringify(flags)}`, async () => {
      await expect(parseIsolation(flags)).rejects.toThrow(message);
    });
  }

  const volumes: Array<[string, boolean | RegExp]> = [
    ['/h:/c', false], ['/h:/c:ro', true], ['/h:/c:rw', false], ['/h:/c:z', false], ['/h:/c:ro,Z', true], ['/h:/c:Z,rw', false],
    ['/h:/c:ro,rw', /^invalid volume '\/h:\/c:ro,rw': expected HOSTDIR:CTRDIR\[:OPTIONS\], OPTIONS from ro\|rw, z\|Z, private\|rprivate, consistent\|cached\|delegated$/], ['/h:/c:z,Z', /^invalid volume/], ['/h:/c:rx', /^invalid volume/],
    // docker's propagation and consistency words: rprivate is what every bind is here, cached/delegated are macOS hints.
    ['/h:/c:ro,rprivate', true], ['/h:/c:private', false], ['/h:/c:cached', false], ['/h:/c:rw,z,delegated', false], ['/h:/c:cached,delegated', /^invalid volume/],
    ['/h:/c:rshared', /^invalid volume '\/h:\/c:rshared': propagation 'rshared' is not supported \(binds are rprivate\)$/],
  ];
  for (const [spec, want] of volumes) {
    it(`-v ${spec}`, () => {
      if (typeof want === 'boolean') expect(parseVolume(spec)).toEqual({ source: '/h', target: '/c', readonly: want });
      else expect(() => parseVolume(spec)).toThrow(want);
    });
  }

  it('sizes, names and combined forms', async () => {
    const i = await parseIsolation({ memory: '1G', memorySwap: '-1', capAdd: ['sys_admin,cap_net_admin'], securityOpt: ['no-new-privileges:true', 'label=disable'] });
    expect(i).toMatchObject({ noNewPrivileges: true, capAdd: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'], limits: { memory: 1024 ** 3, memorySwap: -1 } });
  });
});
