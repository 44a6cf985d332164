/*
 * layerfs-init: puts one command in its own namespaces on a prepared rootfs.
 * Node cannot unshare, mount or pivot_root, so src/runtime/init.ts runs this.
 * See native-notes/init.md for the protocol and the choices made.
 *
 *   layerfs-init -r ROOTFS [-h HOST] [-w DIR] [-u UID] [-g GID] [-G g1,g2]
 *                [-e K=V]... [-b SRC DST]... [-B SRC DST]... [-n] [-j NETNS] [-t]
 *                [-p PIDFILE] [-c CGROUPDIR]... [-k CAPMASK] [-s SECCOMP] [-N] [-m]
 *                [-P] [-R] [-T PATH OPTS]... [-D PATH DEV]... [-S SHMSIZE] [-L RES:SOFT:HARD]...
 *                [-I] [-E] -- COMMAND [ARG]...
 *   layerfs-init -x PID [-w DIR] [-u UID] [-g GID] [-G g1,g2] [-e K=V]... [-t]
 *                [-c CGROUPDIR]... [-k CAPMASK] [-s SECCOMP] [-N]
 *                -- COMMAND [ARG]...            (exec: join PID's container)
 *
 * Exit status: the command's own, 128+N when a signal killed it, 125 when
 * the container could not be set up, 126 when the command cannot be executed,
 * 127 when it is not found.
 *
 * -E: fd 3 is the exec status pipe. It is close-on-exec, so the runtime reads
 * EOF alone once the command runs; a start that fails writes "CODE MESSAGE"
 * there instead of to stderr (the runtime reports it as docker does).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "confine.h"

#define MAX_LIST 256
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct bind { const char *src, *dst; int ro; };
struct tmpfs { const char *dst, *opts; };

static const char *rootfs, *hostname, *workdir = "/", *groups_arg, *pidfile, *netns;
static uid_t uid;
static gid_t gid;
static int new_net, tty, reaper;
static pid_t join_pid;
static struct tmpfs tmpfses[MAX_LIST];
static int ntmpfs;
/* --device: where in the container, and "c|b:MAJOR:MINOR:MODE(octal):UID:GID". */
struct device { const char *path, *spec; };
static struct device devices[MAX_LIST];
static int ndevices;
static const char *shm_size = "65536k";
/* --ulimit: "RESOURCE:SOFT:HARD", numbers, -1 for unlimited. */
static const char *rlimits[MAX_LIST];
static int nrlimits;
static char *env[MAX_LIST + 1];
static int nenv;
static int status_fd = -1;
static struct bind binds[MAX_LIST];
static int nbinds;
static volatile pid_t child;
static const char *cgroups[MAX_LIST];
static int ncgroups, masks, privileged, readonly_root;
static struct confinement confinement = {.caps = ~0ULL, .seccomp_fd = -1};

/* Exits with `code`, saying why on the status pipe when there is one (else on stderr). */
static void fail(int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (status_fd < 0 || dprintf(status_fd, "%d %s", code, msg) < 0) fprintf(stderr, "%s\n", msg);
  _exit(code);
}

/* A process that does not exec the command lets go of the status pipe. */
static void drop_status_fd(void) {
  if (status_fd >= 0) close(status_fd);
  status_fd = -1;
}

static void die(const char *what, const char *path) {
  fail(125, "layerfs-init: %s %s: %s", what, path ? path : "", strerror(errno));
}

static void usage(const char *why) {
  fprintf(stderr, "layerfs-init: %s\n", why);
  exit(125);
}

/* ROOTFS/PATH in a static buffer (one at a time is all we need). */
static const char *in_root(const char *path) {
  static char buf[4096];
  if (snprintf(buf, sizeof buf, "%s/%s", rootfs, path) >= (int)sizeof buf) usage("path too long");
  return buf;
}

static void must_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount", dst);
}

static void make_dev(const char *name, unsigned maj, unsigned min) {
  const char *path = in_root(name);
  if (mknod(path, S_IFCHR | 0666, makedev(maj, min)) < 0) die("mknod", path);
}

static void make_link(const char *target, const char *name) {
  const char *path = in_root(name);
  if (symlink(target, path) < 0) die("symlink", path);
}

/*
 * A --device node, as runc makes it: its parents made, whatever was there replaced.
 * It is made before pivot_root, through the image's tree: each directory is opened
 * with O_NOFOLLOW from the rootfs, so an image's symlink (/x -> /etc) fails the
 * start instead of leading the unlink and mknod onto the host.
 */
static void make_device(const struct device *d) {
  char type;
  unsigned maj, min, mode, uid, gid;
  if (sscanf(d->spec, "%c:%u:%u:%o:%u:%u", &type, &maj, &min, &mode, &uid, &gid) != 6) usage("bad -D device");
  char path[4096];
  if (snprintf(path, sizeof path, "%s", d->path) >= (int)sizeof path) usage("path too long");
  int dir = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) die("open", rootfs);
  char *name = path;
  for (char *slash; (slash = strchr(name, '/')) != NULL; name = slash + 1) {
    *slash = '\0';
    if (*name == '\0') continue;
    if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST) die("mkdir", d->path);
    int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) die("open (a symlink in the image is not followed)", d->path);
    close(dir);
    dir = next;
  }
  unlinkat(dir, name, 0);
  if (mknodat(dir, name, (type == 'b' ? S_IFBLK : S_IFCHR) | (mode & 07777), makedev(maj, min)) < 0) die("mknod", d->path);
  if (fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) die("chown", d->path);
  close(dir);
}

/* A minimal /dev like docker's: a tmpfs with the usual nodes, its own devpts and shm. */
static void setup_dev(void) {
  must_mount("tmpfs", in_root("dev"), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  make_dev("dev/null", 1, 3);
  make_dev("dev/zero", 1, 5);
  make_dev("dev/full", 1, 7);
  make_dev("dev/random", 1, 8);
  make_dev("dev/urandom", 1, 9);
  make_dev("dev/tty", 5, 0);
  if (mkdir(in_root("dev/pts"), 0755) < 0 || mkdir(in_root("dev/shm"), 01777) < 0) die("mkdir", in_root("dev"));
  must_mount("devpts", in_root("dev/pts"), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  char shm_opts[64];
  snprintf(shm_opts, sizeof shm_opts, "mode=1777,size=%s", shm_size);
  must_mount("shm", in_root("dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts);
  /* The container's IPC namespace's POSIX message queues, where docker mounts them. */
  if (mkdir(in_root("dev/mqueue"), 01777) < 0) die("mkdir", in_root("dev/mqueue"));
  must_mount("mqueue", in_root("dev/mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  make_link("pts/ptmx", "dev/ptmx");
  make_link("/proc/self/fd", "dev/fd");
  make_link("/proc/self/fd/0", "dev/stdin");
  make_link("/proc/self/fd/1", "dev/stdout");
  make_link("/proc/self/fd/2", "dev/stderr");
  make_link("/proc/kcore", "dev/core");
  if (privileged) host_devices(rootfs);
  for (int i = 0; i < ndevices; i++) make_device(&devices[i]);
  if (tty && isatty(0)) {
    /* The terminal comes from the host's devpts: show it as /dev/console, as runc does. */
    const char *console = in_root("dev/console");
    int fd = open(console, O_CREAT | O_WRONLY, 0600);
    if (fd < 0) die("create", console);
    close(fd);
    must_mount(ttyname(0), console, NULL, MS_BIND, NULL);
  }
}

/* --tmpfs PATH:OPTS: mount(8)-style flag words become flags, the rest (size=, mode=) the data. */
static void mount_tmpfs(const struct tmpfs *t) {
  static const struct { const char *name; unsigned long set, clear; } words[] = {
    {"ro", MS_RDONLY, 0}, {"rw", 0, MS_RDONLY}, {"noexec", MS_NOEXEC, 0}, {"exec", 0, MS_NOEXEC},
    {"nosuid", MS_NOSUID, 0}, {"suid", 0, MS_NOSUID}, {"nodev", MS_NODEV, 0}, {"dev", 0, MS_NODEV},
  };
  unsigned long flags = MS_NOEXEC | MS_NOSUID | MS_NODEV; /* docker's defaults */
  char copy[1024], data[1024] = "";
  snprintf(copy, sizeof copy, "%s", t->opts);
  for (char *save, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    unsigned i = 0;
    for (; i < sizeof words / sizeof *words && strcmp(words[i].name, w) != 0; i++) {}
    if (i < sizeof words / sizeof *words) flags = (flags | words[i].set) & ~words[i].clear;
    else snprintf(data + strlen(data), sizeof data - strlen(data), "%s%s", *data ? "," : "", w);
  }
  must_mount("tmpfs", in_root(t->dst), "tmpfs", flags, data);
}

static void lo_up(void) {
  struct ifreq ifr = {0};
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("get flags of", "lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("bring up", "lo");
  close(s);
}

static void parse_groups(gid_t *out, int *n) {
  char *end;
  *n = 0;
  for (const char *p = groups_arg; p && *p && *n < MAX_LIST; p = *end == ',' ? end + 1 : end)
    out[(*n)++] = (gid_t)strtoul(p, &end, 10);
}

/* Like execvp, but PATH comes from the container's environment, and failures get docker's exit codes. */
static void exec_command(char **argv) {
  const char *path = DEFAULT_PATH;
  int denied = 0, noexec = 0;
  for (int i = 0; i < nenv; i++)
    if (strncmp(env[i], "PATH=", 5) == 0) path = env[i] + 5;
  if (strchr(argv[0], '/')) {
    execve(argv[0], argv, env);
    fail(errno == ENOENT || errno == ENOTDIR ? 127 : 126, "layerfs: exec \"%s\": %s", argv[0], strerror(errno));
  }
  for (const char *p = path; ; p++) {
    const char *end = strchrnul(p, ':');
    char buf[4096];
    if (end == p) snprintf(buf, sizeof buf, "./%s", argv[0]); /* an empty PATH entry is the cwd */
    else snprintf(buf, sizeof buf, "%.*s/%s", (int)(end - p), p, argv[0]);
    execve(buf, argv, env);
    if (errno == EACCES) denied = 1;
    if (errno == ENOEXEC) noexec = 1;
    if (*end == '\0') break;
    p = end;
  }
  if (denied || noexec) fail(126, "layerfs: exec \"%s\": %s", argv[0], noexec ? "exec format error" : "permission denied");
  fail(127, "layerfs: exec \"%s\": executable file not found in $PATH", argv[0]);
}

static void reap_and_exec(char **argv);

/* --ulimit, while still root: a hard limit above the host's needs CAP_SYS_RESOURCE. */
static void set_rlimits(void) {
  for (int i = 0; i < nrlimits; i++) {
    int res;
    long long soft, hard;
    if (sscanf(rlimits[i], "%d:%lld:%lld", &res, &soft, &hard) != 3) usage("bad -L limit");
    struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
    if (setrlimit(res, &rl) < 0) die("setrlimit", rlimits[i]);
  }
}

/* The last steps before exec, for PID 1 and for exec alike: cwd, identity, then the confinement. */
static void become_user(void) {
  gid_t groups[MAX_LIST];
  int ngroups;
  if (chdir(workdir) < 0) die("chdir", workdir);
  parse_groups(groups, &ngroups);
  if (setgroups(ngroups, groups) < 0) die("setgroups", groups_arg);
  if (setgid(gid) < 0) die("setgid", NULL);
  /* Keep the permitted set across setuid: confine() then leaves the container's own set. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("set keepcaps", NULL);
  if (setuid(uid) < 0) die("setuid", NULL);
  confine(&confinement);
}

/* PID 1 of the new pid namespace: mounts, pivot_root, identity, then exec the command. */
static void container(char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* -j: a network namespace the runtime made and wired (bridge) or another container's. */
  if (netns) {
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) die("join network namespace", netns);
    close(fd);
  }
  /* Only PID 1 changes its mounts and names: the parent stays on the host's to write the pid file. */
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (new_net && !netns ? CLONE_NEWNET : 0)) < 0) die("unshare", NULL);
  umask(0);
  must_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  must_mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL); /* pivot_root needs a mount point */
  if (readonly_root) must_mount(NULL, rootfs, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
  for (int i = 0; i < nbinds; i++) {
    const char *dst = in_root(binds[i].dst);
    must_mount(binds[i].src, dst, NULL, MS_BIND | MS_REC, NULL);
    if (binds[i].ro) readonly_tree(dst);
  }
  for (int i = 0; i < ntmpfs; i++) mount_tmpfs(&tmpfses[i]);
  must_mount("proc", in_root("proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  setup_dev();
  must_mount("sysfs", in_root("sys"), "sysfs", (privileged ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_cgroups(rootfs, cgroups, ncgroups, privileged);
  if (masks) confine_mounts(rootfs);
  umask(022);
  /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the rootfs. */
  if (chdir(rootfs) < 0) die("chdir", rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root", rootfs);
  if (umount2(".", MNT_DETACH) < 0) die("detach old root", NULL);
  if (chdir("/") < 0) die("chdir", "/");
  if (hostname && sethostname(hostname, strlen(hostname)) < 0) die("sethostname", hostname);
  if (new_net || netns) lo_up();
  /* Its own session, like runc; with -t the terminal becomes its controlling tty. */
  if (setsid() < 0) die("setsid", NULL);
  if (tty && isatty(0) && ioctl(0, TIOCSCTTY, 1) < 0) die("set controlling terminal", NULL);
  set_rlimits();
  become_user();
  if (reaper) reap_and_exec(argv);
  exec_command(argv);
}

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static void forward_signals(void) {
  struct sigaction sa = {0};
  sa.sa_handler = forward;
  for (unsigned s = 0; s < sizeof forwarded / sizeof *forwarded; s++) sigaction(forwarded[s], &sa, NULL);
}

/* Waits for `child`, reaping any other process that ends meanwhile; its status as an exit code. */
static int wait_child(void) {
  int status;
  for (;;) {
    pid_t got = waitpid(-1, &status, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) die("waitpid", NULL);
    if (got == child) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  }
}

/*
 * --init: PID 1 stays this program, a reaper like docker's tini. The command
 * runs as its child, so the kernel's PID 1 signal rules do not shield it: a
 * SIGTERM or Ctrl-C that PID 1 forwards kills a program with no handler.
 */
static void reap_and_exec(char **argv) {
  /* Blocked across the fork: a signal sent meanwhile waits until `child` is known. */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  forward_signals();
  child = fork();
  if (child < 0) die("fork", NULL);
  if (child == 0) {
    for (unsigned s = 0; s < sizeof forwarded / sizeof *forwarded; s++) signal(forwarded[s], SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    exec_command(argv);
  }
  drop_status_fd();
  sigprocmask(SIG_SETMASK, &old, NULL);
  _exit(wait_child());
}

static volatile sig_atomic_t winch;
static void on_winch(int sig) { (void)sig; winch = 1; }

static void write_all(int fd, const char *buf, ssize_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, (size_t)len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    buf += w;
    len -= w;
  }
}

static void copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

/*
 * exec -t: the command's terminal is a pty of the container's own devpts (so
 * `tty` names it, as under docker), relayed byte for byte to ours, which is
 * raw meanwhile (its line discipline is the inner pty's). Ends when every
 * holder of the inner pty is gone (read gives EIO).
 */
static int relay(int master) {
  struct termios saved;
  int restore = tcgetattr(0, &saved) == 0;
  if (restore) {
    struct termios raw = saved;
    cfmakeraw(&raw);
    tcsetattr(0, TCSANOW, &raw);
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, NULL);
  char buf[8192];
  int input = 1;
  for (;;) {
    if (winch) {
      winch = 0;
      copy_winsize(0, master);
    }
    struct pollfd p[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(p, input ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      write_all(1, buf, r);
    }
    if (input && p[1].revents) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r <= 0 && !(r < 0 && errno == EINTR)) input = 0;
      else if (r > 0) write_all(master, buf, r);
    }
  }
  if (restore) tcsetattr(0, TCSANOW, &saved);
  return wait_child();
}

/*
 * exec: joins the namespaces and root of the container whose PID 1 is
 * join_pid (as the host sees it), then runs the command there. setns to a
 * pid namespace only applies to children, hence the fork; the parent stays
 * to forward signals (or relay the terminal) and pass the exit status on.
 */
static int join_container(char **argv) {
  static const char *const names[] = {"ipc", "uts", "net", "pid", "mnt"};
  int fds[sizeof names / sizeof *names];
  char path[64];
  int master = -1;
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)join_pid, names[i]);
    if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) die("open", path);
  }
  snprintf(path, sizeof path, "/proc/%d/root", (int)join_pid);
  int root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die("open", path);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The container's cgroups, while the host's /sys/fs/cgroup is still in reach. */
  join_cgroups(cgroups, ncgroups);
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
    if (setns(fds[i], 0) < 0) die("setns", names[i]);
    close(fds[i]);
  }
  if (fchdir(root) < 0 || chroot(".") < 0) die("chroot", path);
  close(root);
  if (tty && isatty(0)) {
    /* /dev/ptmx is the container's now (its devpts instance). */
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) < 0) die("open a terminal in", "/dev/ptmx");
    copy_winsize(0, master);
  }
  child = fork();
  if (child < 0) die("fork", NULL);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setsid() < 0) die("setsid", NULL);
    if (master >= 0) {
      const char *name = ptsname(master);
      int slave = name ? open(name, O_RDWR) : -1;
      if (slave < 0) die("open", name);
      if (ioctl(slave, TIOCSCTTY, 0) < 0) die("set controlling terminal", name);
      if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) die("dup2", name);
      if (slave > 2) close(slave);
    }
    become_user(); /* the container's own capabilities and seccomp profile, as docker exec */
    exec_command(argv);
  }
  drop_status_fd();
  forward_signals();
  return master >= 0 ? relay(master) : wait_child();
}

int main(int argc, char **argv) {
  int i = 1;
  /* Only stdin, stdout and stderr go in (and -E's fd 3): a pipe the runtime's own parent waits on must not stay open in here. */
  for (int j = 1; j < argc && strcmp(argv[j], "--") != 0; j++)
    if (strcmp(argv[j], "-E") == 0 && fcntl(3, F_SETFD, FD_CLOEXEC) == 0) status_fd = 3;
  syscall(SYS_close_range, status_fd < 0 ? 3U : 4U, ~0U, 0U);
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *opt = argv[i];
    int takes = strchr("rhwugGepcksjxSL", opt[1]) ? 1 : strchr("bBTD", opt[1]) ? 2 : 0;
    if (opt[0] != '-' || opt[1] == '\0' || opt[2] != '\0' || i + takes >= argc) usage("bad arguments");
    const char *a = argv[i + 1];
    switch (opt[1]) {
      case 'r': rootfs = a; break;
      case 'h': hostname = a; break;
      case 'w': workdir = a; break;
      case 'u': uid = (uid_t)strtoul(a, NULL, 10); break;
      case 'g': gid = (gid_t)strtoul(a, NULL, 10); break;
      case 'G': groups_arg = a; break;
      case 'p': pidfile = a; break;
      case 'e': if (nenv < MAX_LIST) env[nenv++] = (char *)a; break;
      case 'b': case 'B':
        if (nbinds < MAX_LIST) binds[nbinds++] = (struct bind){a, argv[i + 2], opt[1] == 'B'};
        break;
      case 'T':
        if (ntmpfs < MAX_LIST) tmpfses[ntmpfs++] = (struct tmpfs){a, argv[i + 2]};
        break;
      case 'D':
        if (ndevices < MAX_LIST) devices[ndevices++] = (struct device){a, argv[i + 2]};
        break;
      case 'S': shm_size = a; break;
      case 'L': if (nrlimits < MAX_LIST) rlimits[nrlimits++] = a; break;
      case 'x': join_pid = (pid_t)strtol(a, NULL, 10); break;
      case 'I': reaper = 1; break;
      case 'n': new_net = 1; break;
      case 'j': netns = a; break;
      case 't': tty = 1; break;
      case 'c': if (ncgroups < MAX_LIST) cgroups[ncgroups++] = a; break;
      case 'k': confinement.caps = strtoull(a, NULL, 16); break;
      case 's':
        if ((confinement.seccomp_fd = open(a, O_RDONLY | O_CLOEXEC)) < 0) die("open", a);
        break;
      case 'N': confinement.no_new_privs = 1; break;
      case 'm': masks = 1; break;
      case 'P': privileged = 1; break;
      case 'R': readonly_root = 1; break;
      case 'E': break;
      default: usage("unknown option");
    }
    i += takes;
  }
  if ((!rootfs && join_pid <= 0) || i + 1 >= argc) usage("usage: layerfs-init -r ROOTFS [options] -- COMMAND [ARG]...");
  char **command = argv + i + 1;
  if (join_pid > 0) return join_container(command);

  /* Dies with whoever started it, so a killed runtime never leaves a container behind. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* Before the fork, so the command is limited from its first instruction. */
  join_cgroups(cgroups, ncgroups);
  if (unshare(CLONE_NEWPID) < 0) die("unshare", NULL);
  child = fork();
  if (child < 0) die("fork", NULL);
  if (child == 0) container(command);
  drop_status_fd();

  if (pidfile) {
    FILE *f = fopen(pidfile, "w");
    if (!f || fprintf(f, "%d\n", (int)child) < 0 || fclose(f) != 0) {
      kill(child, SIGKILL);
      die("write", pidfile);
    }
  }
  forward_signals();
  return wait_child();
}
