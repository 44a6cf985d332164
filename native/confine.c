/*
 * Confinement of a container's command: capabilities, no_new_privs, seccomp,
 * masked kernel files, cgroup membership. The runtime decides the policy;
 * see native-notes/init.md for each default and what it blocks.
 *
 * The compiled seccomp profile is a text file, one rule a line:
 *
 *   default ACTION              the action for syscalls no rule names
 *   arch NAME                   also filter this ABI (x86, x32, ...)
 *   ACTION SYSCALL [ARG OP A B]...
 *
 * ACTION is allow, errno:N, kill, kill_process, trap or log; OP is one of
 * ne lt le eq ge gt masked_eq (A is the mask and B the value for masked_eq).
 * SYSCALL may be NAME=NR, NR its x86-64 number for when this libseccomp does
 * not know NAME; a name unknown and without a number is skipped, as docker does.
 */
#define _GNU_SOURCE
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

static void fail(const char *what, const char *detail, int err) {
  fprintf(stderr, "layerfs-init: %s %s: %s\n", what, detail ? detail : "", strerror(err));
  _exit(125);
}

static int last_cap(void) {
  int last = 40;
  FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  if (f) {
    if (fscanf(f, "%d", &last) != 1) last = 40;
    fclose(f);
  }
  return last;
}

static void set_caps(uint64_t eff, uint64_t perm, uint64_t inh) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {
    {(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
    {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
  };
  if (syscall(SYS_capset, &h, d) < 0) fail("capset", NULL, errno);
}

static uint64_t permitted_now(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) fail("capget", NULL, errno);
  return (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
}

static uint32_t parse_action(const char *s, const char *line) {
  if (strcmp(s, "allow") == 0) return SCMP_ACT_ALLOW;
  if (strncmp(s, "errno:", 6) == 0) return SCMP_ACT_ERRNO(atoi(s + 6));
  if (strcmp(s, "kill") == 0) return SCMP_ACT_KILL;
  if (strcmp(s, "kill_process") == 0) return SCMP_ACT_KILL_PROCESS;
  if (strcmp(s, "trap") == 0) return SCMP_ACT_TRAP;
  if (strcmp(s, "log") == 0) return SCMP_ACT_LOG;
  fail("seccomp: bad action in", line, EINVAL);
  return 0;
}

static enum scmp_compare parse_op(const char *s, const char *line) {
  static const struct { const char *name; enum scmp_compare op; } ops[] = {
    {"ne", SCMP_CMP_NE}, {"lt", SCMP_CMP_LT}, {"le", SCMP_CMP_LE}, {"eq", SCMP_CMP_EQ},
    {"ge", SCMP_CMP_GE}, {"gt", SCMP_CMP_GT}, {"masked_eq", SCMP_CMP_MASKED_EQ},
  };
  for (unsigned i = 0; i < sizeof ops / sizeof *ops; i++)
    if (strcmp(s, ops[i].name) == 0) return ops[i].op;
  fail("seccomp: bad operator in", line, EINVAL);
  return SCMP_CMP_EQ;
}

static scmp_filter_ctx new_filter(uint32_t def, const char *path) {
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) fail("seccomp_init", path, ENOMEM);
  /* no_new_privs is our own decision (--security-opt no-new-privileges), not libseccomp's. */
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) fail("seccomp", "nnp attribute", EINVAL);
  return ctx;
}

/*
 * Builds the filter from the compiled profile; does not load it. The native
 * ABI and the compat ABIs (arch lines) are two filters merged at the end, so
 * that a syscall newer than this libseccomp (SYSCALL=NR: its x86-64 number)
 * can still be ruled on for the native ABI, where libseccomp takes a number
 * as it is; the compat ABIs give it the default action.
 */
static scmp_filter_ctx read_profile(int fd) {
  const char *path = "seccomp profile";
  FILE *f = fdopen(fd, "r");
  if (!f) fail("read", path, errno);
  char line[1024];
  scmp_filter_ctx ctx = NULL, compat = NULL;
  uint32_t def = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char copy[1024], *save, *tok[4 + 6 * 4];
    int n = 0;
    strcpy(copy, line);
    for (char *t = strtok_r(copy, " ", &save); t && n < (int)(sizeof tok / sizeof *tok); t = strtok_r(NULL, " ", &save)) tok[n++] = t;
    if (n == 0) continue;
    if (strcmp(tok[0], "default") == 0 && n == 2) {
      if (ctx) fail("seccomp: a second default in", path, EINVAL);
      def = parse_action(tok[1], line);
      ctx = new_filter(def, path);
      continue;
    }
    if (!ctx) fail("seccomp: no default before", line, EINVAL);
    if (strcmp(tok[0], "arch") == 0 && n == 2) {
      uint32_t arch = seccomp_arch_resolve_name(tok[1]);
      if (!arch || arch == seccomp_arch_native()) continue;
      if (!compat) {
        compat = new_filter(def, path);
        if (seccomp_arch_remove(compat, SCMP_ARCH_NATIVE) < 0) fail("seccomp: remove native arch", path, EINVAL);
      }
      int rc = seccomp_arch_add(compat, arch);
      if (rc < 0 && rc != -EEXIST) fail("seccomp: add arch", tok[1], -rc);
      continue;
    }
    if (n < 2 || (n - 2) % 4 != 0) fail("seccomp: bad rule", line, EINVAL);
    char *number = strchr(tok[1], '=');
    if (number) *number++ = '\0';
    int nr = seccomp_syscall_resolve_name(tok[1]);
    if (nr == __NR_SCMP_ERROR && !number) continue; /* unknown to us both: skipped, as docker does */
    struct scmp_arg_cmp args[6];
    unsigned nargs = 0;
    for (int i = 2; i + 3 < n && nargs < 6; i += 4)
      args[nargs++] = (struct scmp_arg_cmp){(unsigned)atoi(tok[i]), parse_op(tok[i + 1], line),
                                            strtoull(tok[i + 2], NULL, 0), strtoull(tok[i + 3], NULL, 0)};
    uint32_t action = parse_action(tok[0], line);
    int rc = nr != __NR_SCMP_ERROR ? seccomp_rule_add_array(ctx, action, nr, nargs, args)
                                   : seccomp_rule_add_exact_array(ctx, action, atoi(number), nargs, args);
    if (rc < 0) fail("seccomp: rule", line, -rc);
    if (compat && nr != __NR_SCMP_ERROR && (rc = seccomp_rule_add_array(compat, action, nr, nargs, args)) < 0) fail("seccomp: rule", line, -rc);
  }
  fclose(f);
  if (!ctx) fail("seccomp: empty profile", path, EINVAL);
  if (compat) {
    int rc = seccomp_merge(ctx, compat);
    if (rc < 0) fail("seccomp: merge the compat ABIs'", "filter", -rc);
  }
  return ctx;
}

void confine(const struct confinement *c) {
  int root = geteuid() == 0;
  /* PR_SET_KEEPCAPS kept the permitted set across setuid; take it back in
   * full until we are done (dropping the bounding set needs CAP_SETPCAP,
   * loading seccomp without no_new_privs needs CAP_SYS_ADMIN). */
  uint64_t all = permitted_now();
  set_caps(all, all, 0);
  for (int cap = 0; cap <= last_cap(); cap++)
    if (!(c->caps & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) fail("drop capability", NULL, errno);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) fail("clear ambient capabilities", NULL, errno);
  if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("set no_new_privs", NULL, errno);
  if (c->seccomp_fd >= 0) {
    scmp_filter_ctx ctx = read_profile(c->seccomp_fd);
    int rc = seccomp_load(ctx);
    if (rc < 0) fail("load", "seccomp profile", -rc);
    seccomp_release(ctx);
  }
  /* Last, through the filter (docker's profile allows capset and prctl, as runc needs too).
   * The inheritable set stays empty, as docker's since CVE-2022-24769: with it, a file's
   * inheritable capabilities would be granted across execve even to a non-root user. */
  uint64_t keep = root ? c->caps & all : 0;
  set_caps(keep, keep, 0);
  /* PR_SET_KEEPCAPS needs no clearing: execve resets it. */
}

/* ---- mounts ---- */

static const char *const masked[] = {
  "proc/acpi", "proc/asound", "proc/interrupts", "proc/kcore", "proc/keys", "proc/latency_stats",
  "proc/timer_list", "proc/timer_stats", "proc/sched_debug", "proc/scsi",
  "sys/firmware", "sys/devices/virtual/powercap",
};
static const char *const readonly[] = {"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"};

void readonly_tree(const char *path) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) < 0) fail("make read-only", path, errno);
}

void confine_mounts(const char *rootfs) {
  char path[4096], devnull[4096];
  snprintf(devnull, sizeof devnull, "%s/dev/null", rootfs);
  for (unsigned i = 0; i < sizeof masked / sizeof *masked; i++) {
    snprintf(path, sizeof path, "%s/%s", rootfs, masked[i]);
    struct stat st;
    if (lstat(path, &st) < 0) continue; /* not on this kernel */
    int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)
                                 : mount(devnull, path, NULL, MS_BIND, NULL);
    if (rc < 0) fail("mask", path, errno);
  }
  for (unsigned i = 0; i < sizeof readonly / sizeof *readonly; i++) {
    snprintf(path, sizeof path, "%s/%s", rootfs, readonly[i]);
    if (access(path, F_OK) < 0) continue;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) fail("bind", path, errno);
    readonly_tree(path);
  }
}

/* --privileged: every device node of the host's /dev (and one level of its subdirs), as docker gives. */
static void copy_devices(const char *from, const char *to, int depth) {
  DIR *d = opendir(from);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    char src[4096], dst[4096];
    struct stat st;
    if (e->d_name[0] == '.') continue;
    snprintf(src, sizeof src, "%s/%s", from, e->d_name);
    snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
    if (lstat(src, &st) < 0) continue;
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      if (mknod(dst, st.st_mode, st.st_rdev) < 0) {
        if (errno == EEXIST) continue;
        fail("mknod", dst, errno);
      }
      if (chown(dst, st.st_uid, st.st_gid) < 0) fail("chown", dst, errno);
    } else if (S_ISDIR(st.st_mode) && depth > 0 && strcmp(e->d_name, "pts") && strcmp(e->d_name, "shm") && strcmp(e->d_name, "mqueue")) {
      if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST) fail("mkdir", dst, errno);
      copy_devices(src, dst, depth - 1);
    }
  }
  closedir(d);
}

void host_devices(const char *rootfs) {
  char dev[4096];
  snprintf(dev, sizeof dev, "%s/dev", rootfs);
  copy_devices("/dev", dev, 1);
}

/* The container's own cgroup dirs at /sys/fs/cgroup/<hierarchy>, as docker shows them (v1: one per hierarchy). */
void mount_cgroups(const char *rootfs, const char *const *dirs, int n, int writable) {
  char top[2048], dst[4096];
  snprintf(top, sizeof top, "%s/sys/fs/cgroup", rootfs);
  if (n == 0 || access(top, F_OK) < 0) return;
  if (mount("cgroup", top, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0) fail("mount", top, errno);
  for (int i = 0; i < n; i++) {
    /* DIR is HIERARCHY/layerfs/ID: the hierarchy's name is the component before those two. */
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", dirs[i]);
    for (int up = 0; up < 2; up++) *strrchr(copy, '/') = '\0';
    if (strcmp(copy, "/sys/fs/cgroup") == 0) {
      snprintf(dst, sizeof dst, "%s", top); /* pure v2: the one dir is the whole tree, as docker shows it */
    } else {
      snprintf(dst, sizeof dst, "%s/%s", top, strrchr(copy, '/') + 1);
      if (mkdir(dst, 0755) < 0 && errno != EEXIST) fail("mkdir", dst, errno);
    }
    if (mount(dirs[i], dst, NULL, MS_BIND, NULL) < 0) fail("bind", dst, errno);
  }
  if (!writable) readonly_tree(top);
}

void join_cgroups(const char *const *dirs, int n) {
  char path[4096], pid[32];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/cgroup.procs", dirs[i]);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, len) != len) fail("join cgroup", dirs[i], errno);
    close(fd);
  }
}
