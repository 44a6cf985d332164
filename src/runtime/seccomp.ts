/**
 * seccomp profiles: docker's default as a table of our own, docker-format JSON
 * profiles read from a file (`--security-opt seccomp=FILE`), and the compiled
 * form layerfs-init loads through libseccomp (see native/confine.c): one rule
 * a line, with the capability- and architecture-conditional rules already
 * decided for this container.
 */
import { UsageError } from '../errors.js';

export type SeccompAction =
  | { kind: 'allow' } | { kind: 'errno'; errno: number } | { kind: 'kill' } | { kind: 'kill_process' } | { kind: 'trap' } | { kind: 'log' };

export type SeccompOp = 'ne' | 'lt' | 'le' | 'eq' | 'ge' | 'gt' | 'masked_eq';

/** An argument test; for masked_eq, `value` is the mask and `valueTwo` what the masked argument must equal. */
export interface SeccompArg { index: number; op: SeccompOp; value: string; valueTwo: string }

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  args?: SeccompArg[];
  /** Applies only when the container has all of these capabilities. */
  caps?: string[];
  /** Applies only when the container has none of these. */
  notCaps?: string[];
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  /** ABIs filtered besides the native one (libseccomp names: x86, x32). */
  arches: string[];
  rules: SeccompRule[];
}

const ALLOW: SeccompAction = { kind: 'allow' };
const words = (s: string) => s.trim().split(/\s+/);

// Clone flags that make namespaces (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): none may be set without CAP_SYS_ADMIN.
const CLONE_NAMESPACES = '2114060288';

/**
 * x86-64 numbers of syscalls newer than Debian 12's libseccomp (2.5.4), which
 * layerfs-init would otherwise skip, leaving them EPERM where docker allows them.
 */
const NEWER_SYSCALLS: Record<string, number> = {
  uretprobe: 335, statmount: 457, listmount: 458, lsm_get_self_attr: 459, lsm_set_self_attr: 460, lsm_list_modules: 461,
  mseal: 462, setxattrat: 463, getxattrat: 464, listxattrat: 465, removexattrat: 466,
};

/**
 * Docker's default profile (moby profiles/seccomp/default.json), for x86-64 with its x86 and x32 ABIs.
 * As there, io_uring_* are denied (their operations bypass the filter) and so are AF_ALG sockets.
 */
export const DEFAULT_PROFILE: SeccompProfile = {
  defaultAction: { kind: 'errno', errno: 1 },
  arches: ['x86', 'x32'],
  rules: [
    {
      action: ALLOW,
      names: words(`
        accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
        clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
        clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
        epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
        execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
        fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
        fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
        futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32
        getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority
        getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
        getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
        inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
        lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
        madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
        mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
        mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
        name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal
        pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2
        prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
        readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
        renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
        rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
        sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
        sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
        sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
        sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
        setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
        setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
        set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
        signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
        symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
        timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
        timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
        uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
        writev arch_prctl modify_ldt cachestat fchmodat2 futex_requeue futex_wait futex_wake map_shadow_stack
        getxattrat listmount listxattrat mseal removexattrat setxattrat statmount uretprobe
        process_vm_readv process_vm_writev ptrace`),
    },
    // Every family but AF_ALG (38: the kernel's crypto API, a recurring source of exploits) and AF_VSOCK (40: the hypervisor's host).
    { action: ALLOW, names: ['socket'], args: [{ index: 0, op: 'lt', value: '38', valueTwo: '0' }] },
    { action: ALLOW, names: ['socket'], args: [{ index: 0, op: 'eq', value: '39', valueTwo: '0' }] },
    { action: ALLOW, names: ['socket'], args: [{ index: 0, op: 'gt', value: '40', valueTwo: '0' }] },
    // Only the personalities programs ask for (PER_LINUX, PER_LINUX32, UNAME26 variants, query).
    ...['0', '8', '131072', '131080', '4294967295'].map((v): SeccompRule => ({
      action: ALLOW, names: ['personality'], args: [{ index: 0, op: 'eq', value: v, valueTwo: '0' }],
    })),
    { action: ALLOW, names: ['open_by_handle_at'], caps: ['CAP_DAC_READ_SEARCH'] },
    {
      action: ALLOW,
      caps: ['CAP_SYS_ADMIN'],
      names: words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
        lsm_list_modules lsm_set_self_attr mount mount_setattr
        move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount
        umount2 unshare`),
    },
    // clone without namespace flags; clone3 cannot be inspected (its flags are in memory): ENOSYS makes libc fall back to clone.
    { action: ALLOW, names: ['clone'], args: [{ index: 0, op: 'masked_eq', value: CLONE_NAMESPACES, valueTwo: '0' }], notCaps: ['CAP_SYS_ADMIN'] },
    { action: { kind: 'errno', errno: 38 }, names: ['clone3'], notCaps: ['CAP_SYS_ADMIN'] },
    { action: ALLOW, names: ['reboot'], caps: ['CAP_SYS_BOOT'] },
    { action: ALLOW, names: ['chroot'], caps: ['CAP_SYS_CHROOT'] },
    { action: ALLOW, names: ['delete_module', 'init_module', 'finit_module'], caps: ['CAP_SYS_MODULE'] },
    { action: ALLOW, names: ['acct'], caps: ['CAP_SYS_PACCT'] },
    { action: ALLOW, names: words('kcmp pidfd_getfd process_madvise'), caps: ['CAP_SYS_PTRACE'] },
    { action: ALLOW, names: ['iopl', 'ioperm'], caps: ['CAP_SYS_RAWIO'] },
    { action: ALLOW, names: words('settimeofday stime clock_settime clock_settime64'), caps: ['CAP_SYS_TIME'] },
    { action: ALLOW, names: ['vhangup'], caps: ['CAP_SYS_TTY_CONFIG'] },
    { action: ALLOW, names: words('get_mempolicy mbind set_mempolicy set_mempolicy_home_node'), caps: ['CAP_SYS_NICE'] },
    { action: ALLOW, names: ['syslog'], caps: ['CAP_SYSLOG'] },
    { action: ALLOW, names: ['bpf'], caps: ['CAP_BPF'] },
    { action: ALLOW, names: ['perf_event_open'], caps: ['CAP_PERFMON'] },
  ],
};

const ACTIONS: Record<string, SeccompAction['kind']> = {
  SCMP_ACT_ALLOW: 'allow', SCMP_ACT_ERRNO: 'errno', SCMP_ACT_KILL: 'kill', SCMP_ACT_KILL_THREAD: 'kill',
  SCMP_ACT_KILL_PROCESS: 'kill_process', SCMP_ACT_TRAP: 'trap', SCMP_ACT_LOG: 'log',
};
const OPS: Record<string, SeccompOp> = {
  SCMP_CMP_NE: 'ne', SCMP_CMP_LT: 'lt', SCMP_CMP_LE: 'le', SCMP_CMP_EQ: 'eq', SCMP_CMP_GE: 'ge', SCMP_CMP_GT: 'gt', SCMP_CMP_MASKED_EQ: 'masked_eq',
};
// Docker's architecture names (and Go's) for the ABIs an x86-64 kernel runs.
const ARCHES: Record<string, string | null> = {
  SCMP_ARCH_X86_64: null, SCMP_ARCH_X86: 'x86', SCMP_ARCH_X32: 'x32', amd64: null, x86: 'x86', '386': 'x86', x32: 'x32',
};

type Json = Record<string, unknown>;

function action(name: unknown, errnoRet: unknown, where: string): SeccompAction {
  const kind = typeof name === 'string' ? ACTIONS[name] : undefined;
  if (kind === undefined) throw new UsageError(`${where}: unsupported action ${JSON.stringify(name)}`);
  if (kind !== 'errno') return { kind } as SeccompAction;
  return { kind, errno: typeof errnoRet === 'number' ? errnoRet : 1 };
}

/** Reads a docker-format JSON profile. Rules for other architectures are dropped; unknown syscall names are skipped later, by init. */
export function parseDockerProfile(text: string, file: string): SeccompProfile {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    throw new UsageError(`seccomp profile ${file}: ${(err as Error).message}`);
  }
  const where = `seccomp profile ${file}`;
  const archNames = [
    ...((doc.architectures as string[] | undefined) ?? []),
    ...(((doc.archMap as Json[] | undefined) ?? []).filter((m) => m.architecture === 'SCMP_ARCH_X86_64').flatMap((m) => (m.subArchitectures as string[] | null) ?? [])),
  ];
  const arches = [...new Set(archNames.map((a) => ARCHES[a]).filter((a): a is string => typeof a === 'string'))];
  const rules: SeccompRule[] = [];
  for (const s of (doc.syscalls as Json[] | undefined) ?? []) {
    const inc = (s.includes ?? {}) as Json;
    const exc = (s.excludes ?? {}) as Json;
    if (Array.isArray(inc.arches) && !inc.arches.some((a) => ['amd64', 'x86', 'x32', '386'].includes(a as string))) continue;
    if (Array.isArray(exc.arches) && exc.arches.includes('amd64')) continue;
    const names = Array.isArray(s.names) ? (s.names as string[]) : typeof s.name === 'string' ? [s.name] : [];
    const args = ((s.args as Json[] | null | undefined) ?? []).map((a): SeccompArg => {
      const op = OPS[a.op as string];
      if (op === undefined) throw new UsageError(`${where}: unsupported operator ${JSON.stringify(a.op)}`);
      return { index: Number(a.index), op, value: String(a.value ?? 0), valueTwo: String(a.valueTwo ?? 0) };
    });
    rules.push({
      names, action: action(s.action, s.errnoRet, where), ...(args.length ? { args } : {}),
      ...(Array.isArray(inc.caps) ? { caps: inc.caps as string[] } : {}),
      ...(Array.isArray(exc.caps) ? { notCaps: exc.caps as string[] } : {}),
    });
  }
  return { defaultAction: action(doc.defaultAction, doc.defaultErrnoRet, where), arches, rules };
}

const actionText = (a: SeccompAction) => (a.kind === 'errno' ? `errno:${a.errno}` : a.kind);

/** The compiled profile for a container with capabilities `caps` (the format native/confine.c reads). */
export function compileProfile(profile: SeccompProfile, caps: string[]): string {
  const lines = [`default ${actionText(profile.defaultAction)}`, ...profile.arches.map((a) => `arch ${a}`)];
  const def = actionText(profile.defaultAction);
  for (const r of profile.rules) {
    if (r.caps && !r.caps.every((c) => caps.includes(c))) continue;
    if (r.notCaps && r.notCaps.some((c) => caps.includes(c))) continue;
    // libseccomp refuses a rule that repeats the default action.
    if (actionText(r.action) === def) continue;
    const args = (r.args ?? []).map((a) => ` ${a.index} ${a.op} ${a.value} ${a.valueTwo}`).join('');
    for (const name of r.names) {
      if (!/^[a-z0-9_]+$/.test(name)) throw new UsageError(`seccomp: invalid syscall name '${name}'`);
      const nr = NEWER_SYSCALLS[name];
      lines.push(`${actionText(r.action)} ${name}${nr === undefined ? '' : `=${nr}`}${args}`);
    }
  }
  return lines.join('\n') + '\n';
}
