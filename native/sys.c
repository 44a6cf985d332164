// layerfs's native helpers: the few syscalls Node has no API for.
// Every function returns a result >= 0 or a negative errno; src/sys.ts turns
// negative values into FsError. See native-notes/sys.md.
#define _GNU_SOURCE
#include <node_api.h>
#include "napi-args.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <linux/fs.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH_BUF 4096

static int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, len, &n) != napi_ok) return -EINVAL;
  if (n >= len - 1) return -ENAMETOOLONG;
  return 0;
}

#define PATH_ARG(name, i)                                   \
  char name[PATH_BUF];                                      \
  { int e = get_string(env, argv[i], name, PATH_BUF); if (e) return num(env, e); }

// The stat layout shared with the patched fuse-native binding: 16 doubles.
static void fill_stat(double *o, const struct stat *st) {
  o[0] = st->st_mode; o[1] = st->st_uid; o[2] = st->st_gid; o[3] = (double) st->st_size;
  o[4] = (double) st->st_dev; o[5] = (double) st->st_nlink; o[6] = (double) st->st_ino;
  o[7] = (double) st->st_rdev; o[8] = st->st_blksize; o[9] = (double) st->st_blocks;
  o[10] = (double) st->st_atim.tv_sec; o[11] = st->st_atim.tv_nsec;
  o[12] = (double) st->st_mtim.tv_sec; o[13] = st->st_mtim.tv_nsec;
  o[14] = (double) st->st_ctim.tv_sec; o[15] = st->st_ctim.tv_nsec;
}

static double *stat_out(napi_env env, napi_value v) {
  napi_typedarray_type t; size_t len; void *data; napi_value ab; size_t off;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off) != napi_ok) return NULL;
  if (t != napi_float64_array || len < 16) return NULL;
  return (double *) data;
}

// lstat(path, Float64Array(16)) -> 0 | -errno
static napi_value js_lstat(napi_env env, napi_callback_info info) {
  ARGS(2) PATH_ARG(p, 0)
  double *o = stat_out(env, argv[1]);
  if (!o) return num(env, -EINVAL);
  struct stat st;
  if (lstat(p, &st) < 0) return num(env, -errno);
  fill_stat(o, &st);
  return num(env, 0);
}

// fstat(fd, Float64Array(16)) -> 0 | -errno
static napi_value js_fstat(napi_env env, napi_callback_info info) {
  ARGS(2)
  double *o = stat_out(env, argv[1]);
  if (!o) return num(env, -EINVAL);
  struct stat st;
  if (fstat((int) arg_num(env, argv[0]), &st) < 0) return num(env, -errno);
  fill_stat(o, &st);
  return num(env, 0);
}

// mknod(path, mode, major, minor) -> 0 | -errno
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  ARGS(4) PATH_ARG(p, 0)
  dev_t dev = makedev((unsigned) arg_num(env, argv[2]), (unsigned) arg_num(env, argv[3]));
  return num(env, mknod(p, (mode_t) arg_num(env, argv[1]), dev) < 0 ? -errno : 0);
}

// mknodRaw(path, mode, dev) -> 0 | -errno, with dev as the kernel passes it
static napi_value js_mknod_raw(napi_env env, napi_callback_info info) {
  ARGS(3) PATH_ARG(p, 0)
  return num(env, mknod(p, (mode_t) arg_num(env, argv[1]), (dev_t) arg_num(env, argv[2])) < 0 ? -errno : 0);
}

// lgetxattr(path, name, Buffer|null) -> size | -errno (null buffer: size query)
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  ARGS(3) PATH_ARG(p, 0) PATH_ARG(name, 1)
  void *buf = NULL; size_t len = 0;
  napi_valuetype t; napi_typeof(env, argv[2], &t);
  if (t != napi_null && t != napi_undefined) napi_get_buffer_info(env, argv[2], &buf, &len);
  ssize_t r = lgetxattr(p, name, buf, len);
  return num(env, r < 0 ? -errno : (double) r);
}

// lsetxattr(path, name, Buffer, flags) -> 0 | -errno
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  ARGS(4) PATH_ARG(p, 0) PATH_ARG(name, 1)
  void *buf = NULL; size_t len = 0;
  napi_get_buffer_info(env, argv[2], &buf, &len);
  return num(env, lsetxattr(p, name, buf, len, (int) arg_num(env, argv[3])) < 0 ? -errno : 0);
}

// llistxattr(path, Buffer|null) -> size | -errno
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  ARGS(2) PATH_ARG(p, 0)
  void *buf = NULL; size_t len = 0;
  napi_valuetype t; napi_typeof(env, argv[1], &t);
  if (t != napi_null && t != napi_undefined) napi_get_buffer_info(env, argv[1], &buf, &len);
  ssize_t r = llistxattr(p, buf, len);
  return num(env, r < 0 ? -errno : (double) r);
}

// lremovexattr(path, name) -> 0 | -errno
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  ARGS(2) PATH_ARG(p, 0) PATH_ARG(name, 1)
  return num(env, lremovexattr(p, name) < 0 ? -errno : 0);
}

// renameat2(old, new, flags) -> 0 | -errno (RENAME_NOREPLACE 1, EXCHANGE 2, WHITEOUT 4)
static napi_value js_renameat2(napi_env env, napi_callback_info info) {
  ARGS(3) PATH_ARG(a, 0) PATH_ARG(b, 1)
  int r = renameat2(AT_FDCWD, a, AT_FDCWD, b, (unsigned) arg_num(env, argv[2]));
  return num(env, r < 0 ? -errno : 0);
}

// utimens(path, asec, ansec, msec, mnsec) -> 0 | -errno; never follows a symlink.
// nsec may be UTIME_NOW or UTIME_OMIT, exactly as FUSE hands them over.
static napi_value js_utimens(napi_env env, napi_callback_info info) {
  ARGS(5) PATH_ARG(p, 0)
  struct timespec ts[2] = {
    { (time_t) arg_num(env, argv[1]), (long) arg_num(env, argv[2]) },
    { (time_t) arg_num(env, argv[3]), (long) arg_num(env, argv[4]) },
  };
  return num(env, utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0);
}

// futimens(fd, asec, ansec, msec, mnsec) -> 0 | -errno
static napi_value js_futimens(napi_env env, napi_callback_info info) {
  ARGS(5)
  struct timespec ts[2] = {
    { (time_t) arg_num(env, argv[1]), (long) arg_num(env, argv[2]) },
    { (time_t) arg_num(env, argv[3]), (long) arg_num(env, argv[4]) },
  };
  return num(env, futimens((int) arg_num(env, argv[0]), ts) < 0 ? -errno : 0);
}

// The data of one file into another, both from offset 0, file positions
// untouched: a reflink where the filesystem shares blocks, else
// copy_file_range (the kernel copies), else read/write. Unlike uv_fs_copyfile
// (fs.copyFile) it never truncates the target: on ext4 a truncate to 0 makes
// the close start writeback of everything written (auto_da_alloc), which cost
// a copy-up of 512 MiB 250 ms on close alone.
static int copy_data(int in, int out, int64_t len) {
  if (ioctl(out, FICLONE, in) == 0) return 0;
  loff_t off = 0;
  while (off < len) {
    loff_t o = off;
    ssize_t n = copy_file_range(in, &off, out, &o, (size_t) (len - off), 0);
    if (n > 0) continue;
    if (n == 0) return 0; // the source ended early
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) return -errno;
    break; // no in-kernel copy here: read and write
  }
  size_t size = 1 << 20;
  char *buf = malloc(size);
  if (buf == NULL) return -ENOMEM;
  int res = 0;
  while (off < len && res == 0) {
    ssize_t n = pread(in, buf, size, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      res = n < 0 ? -errno : 0;
      break;
    }
    for (ssize_t w = 0; w < n && res == 0;) {
      ssize_t m = pwrite(out, buf + w, (size_t) (n - w), off + w);
      if (m < 0 && errno != EINTR) res = -errno;
      if (m > 0) w += m;
    }
    off += n;
  }
  free(buf);
  return res;
}

// copyData(inFd, outFd, len) -> 0 | -errno
static napi_value js_copy_data(napi_env env, napi_callback_info info) {
  ARGS(3)
  return num(env, copy_data((int) arg_num(env, argv[0]), (int) arg_num(env, argv[1]), (int64_t) arg_num(env, argv[2])));
}

// copyDataAsync(inFd, outFd, len, done(result)): the same on the libuv thread pool.
typedef struct {
  napi_async_work work;
  napi_ref done;
  int in, out, res;
  int64_t len;
} copy_job;

static void copy_execute(napi_env env, void *data) {
  copy_job *j = data;
  j->res = copy_data(j->in, j->out, j->len);
}

static void copy_complete(napi_env env, napi_status status, void *data) {
  copy_job *j = data;
  napi_value done, global, res;
  napi_get_reference_value(env, j->done, &done);
  napi_get_global(env, &global);
  res = num(env, status == napi_ok ? j->res : -ECANCELED);
  napi_call_function(env, global, done, 1, &res, NULL);
  napi_delete_reference(env, j->done);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value js_copy_data_async(napi_env env, napi_callback_info info) {
  ARGS(4)
  copy_job *j = calloc(1, sizeof(*j));
  if (j == NULL) return num(env, -ENOMEM);
  j->in = (int) arg_num(env, argv[0]);
  j->out = (int) arg_num(env, argv[1]);
  j->len = (int64_t) arg_num(env, argv[2]);
  napi_value name;
  napi_create_string_utf8(env, "layerfs:copyData", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[3], 1, &j->done);
  napi_create_async_work(env, NULL, name, copy_execute, copy_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return num(env, 0);
}

// flock(fd, op) -> 0 | -errno (LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8)
static napi_value js_flock(napi_env env, napi_callback_info info) {
  ARGS(2)
  int r;
  do r = flock((int) arg_num(env, argv[0]), (int) arg_num(env, argv[1]));
  while (r < 0 && errno == EINTR);
  return num(env, r < 0 ? -errno : 0);
}

// cgroupDeviceFilter(dir, Int32Array of [type, major, minor, access]...) -> 0 | -errno
// A cgroup v2 device program (BPF_PROG_TYPE_CGROUP_DEVICE) allowing only the
// listed devices, attached to DIR. type: 0 any, 1 block, 2 char; major/minor
// -1 any; access bits 1 mknod, 2 read, 4 write (the kernel's BPF_DEVCG_*).
#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
static napi_value js_cgroup_device_filter(napi_env env, napi_callback_info info) {
  ARGS(2)
  PATH_ARG(dir, 0)
  napi_typedarray_type t; size_t len; void *data; napi_value ab; size_t off;
  if (napi_get_typedarray_info(env, argv[1], &t, &len, &data, &ab, &off) != napi_ok || t != napi_int32_array || len % 4)
    return num(env, -EINVAL);
  const int32_t *rule = data;
  size_t nrules = len / 4, n = 0;
  struct bpf_insn *p = calloc(6 + nrules * 8 + 2, sizeof *p); // at most 8 a rule
  if (!p) return num(env, -ENOMEM);
  // r2 = type (low 16 bits of access_type), r3 = access (high 16), r4 = major, r5 = minor
  p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 2, 1, 0, 0);
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0);
  p[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
  p[n++] = INSN(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16);
  p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 4, 1, 4, 0);
  p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 5, 1, 8, 0);
  for (size_t r = 0; r < nrules; r++, rule += 4) {
    // Each test jumps past the rest of this rule's block when it fails.
    struct bpf_insn *block = p + n;
    int len = 0;
    if (rule[0]) block[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, rule[0]);
    block[len++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 3, 0, 0);
    block[len++] = INSN(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, ~rule[3] & 7); // access asked beyond the rule's
    block[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 6, 0, 0, 0);
    if (rule[1] >= 0) block[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, rule[1]);
    if (rule[2] >= 0) block[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, rule[2]);
    block[len++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
    block[len++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (int i = 0; i < len; i++)
      if (BPF_CLASS(block[i].code) == BPF_JMP && BPF_OP(block[i].code) == BPF_JNE) block[i].off = (int16_t)(len - i - 1);
    n += len;
  }
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
  p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = (uint64_t)(uintptr_t)p;
  load.insn_cnt = (uint32_t)n;
  load.license = (uint64_t)(uintptr_t)"Apache-2.0";
  int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
  int err = prog < 0 ? -errno : 0;
  free(p);
  if (err) return num(env, err);
  int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) err = -errno;
  else {
    union bpf_attr attach;
    memset(&attach, 0, sizeof attach);
    attach.target_fd = (uint32_t)cg;
    attach.attach_bpf_fd = (uint32_t)prog;
    attach.attach_type = BPF_CGROUP_DEVICE;
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) < 0) err = -errno;
    close(cg);
  }
  close(prog); // the attachment holds the program for as long as the cgroup lives
  return num(env, err);
}

// nameToHandle(path, Buffer(8 + 128)) -> 0 | -errno: name_to_handle_at(2) of
// `path` itself (a symlink is not followed), into the buffer as the kernel's
// struct file_handle: u32 handle_bytes, i32 handle_type, then the handle.
// EOPNOTSUPP: the filesystem cannot encode handles that it can decode.
static napi_value js_name_to_handle(napi_env env, napi_callback_info info) {
  ARGS(2) PATH_ARG(p, 0)
  void *buf = NULL; size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &buf, &len) != napi_ok || len < sizeof(struct file_handle) + MAX_HANDLE_SZ)
    return num(env, -EINVAL);
  struct file_handle *fh = buf;
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  return num(env, name_to_handle_at(AT_FDCWD, p, fh, &mount_id, 0) < 0 ? -errno : 0);
}

// openByHandle(mountFd, Buffer(struct file_handle), Float64Array(16)) -> 0 | -errno:
// the stat of the inode a handle names on mountFd's filesystem (open_by_handle_at(2)
// with O_PATH, then fstat, then close). Needs CAP_DAC_READ_SEARCH (EPERM without);
// ESTALE: the inode is gone (or its number was reused: another generation).
static napi_value js_open_by_handle(napi_env env, napi_callback_info info) {
  ARGS(3)
  void *buf = NULL; size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &buf, &len) != napi_ok || len < sizeof(struct file_handle))
    return num(env, -EINVAL);
  struct file_handle *fh = buf;
  if (fh->handle_bytes > MAX_HANDLE_SZ || len < sizeof(struct file_handle) + fh->handle_bytes) return num(env, -EINVAL);
  double *o = stat_out(env, argv[2]);
  if (!o) return num(env, -EINVAL);
  int fd = open_by_handle_at((int) arg_num(env, argv[0]), fh, O_PATH | O_CLOEXEC);
  if (fd < 0) return num(env, -errno);
  struct stat st;
  int r = fstat(fd, &st) < 0 ? -errno : 0;
  close(fd);
  if (r == 0) fill_stat(o, &st);
  return num(env, r);
}

#ifndef FS_IOC_GETFSUUID
struct fsuuid2 { __u8 len; __u8 uuid[16]; };
#define FS_IOC_GETFSUUID _IOR(0x15, 0, struct fsuuid2)
#endif

// fsUuid(path, Buffer(16)) -> uuid length | -errno: the filesystem's uuid
// (FS_IOC_GETFSUUID, Linux 6.5+, the super block's s_uuid), from a directory on it.
static napi_value js_fs_uuid(napi_env env, napi_callback_info info) {
  ARGS(2) PATH_ARG(p, 0)
  void *buf = NULL; size_t len = 0;
  if (napi_get_buffer_info(env, argv[1], &buf, &len) != napi_ok || len < 16) return num(env, -EINVAL);
  int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return num(env, -errno);
  struct fsuuid2 u;
  memset(&u, 0, sizeof u);
  int r = ioctl(fd, FS_IOC_GETFSUUID, &u) < 0 ? -errno : 0;
  close(fd);
  if (r < 0) return num(env, r);
  if (u.len > 16) return num(env, -EINVAL);
  memcpy(buf, u.uuid, u.len);
  return num(env, u.len);
}

#define EXPORT(name, fn) { name, 0, fn, 0, 0, 0, napi_default, 0 }

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    EXPORT("lstat", js_lstat), EXPORT("fstat", js_fstat),
    EXPORT("mknod", js_mknod), EXPORT("mknodRaw", js_mknod_raw),
    EXPORT("lgetxattr", js_lgetxattr), EXPORT("lsetxattr", js_lsetxattr),
    EXPORT("llistxattr", js_llistxattr), EXPORT("lremovexattr", js_lremovexattr),
    EXPORT("renameat2", js_renameat2),
    EXPORT("utimens", js_utimens), EXPORT("futimens", js_futimens),
    EXPORT("copyData", js_copy_data), EXPORT("copyDataAsync", js_copy_data_async),
    EXPORT("flock", js_flock),
    EXPORT("nameToHandle", js_name_to_handle), EXPORT("openByHandle", js_open_by_handle),
    EXPORT("fsUuid", js_fs_uuid),
    EXPORT("cgroupDeviceFilter", js_cgroup_device_filter),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
