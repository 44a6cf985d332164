// layerfs's FUSE engine, the native half: it speaks to /dev/fuse directly
// (no libfuse). Reader threads each own a clone of the connection; they serve
// the requests that need no overlay decision (I/O on an open file's fd) and
// hand everything else to the JS thread, which replies on the same clone.
// The design is in native-notes/fuse-engine.md. Every function returns a
// result >= 0 or a negative errno.
#define _GNU_SOURCE
#include <node_api.h>
#include "napi-args.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fuse.h>

extern char **environ;

// Newer than Debian 12's <linux/fuse.h> (7.38): passthrough is 7.40.
#ifndef FUSE_DEV_IOC_BACKING_OPEN
struct fuse_backing_map { int32_t fd; uint32_t flags; uint64_t padding; };
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(FUSE_DEV_IOC_MAGIC, 1, struct fuse_backing_map)
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t)
#endif

#define MAX_THREADS 16
// The largest request: a 1 MiB write (max_pages 256) and its headers.
#define REQ_BUF ((1 << 20) + 4096)

// Node ids whose "no security.capability" JS has answered: the kernel asks
// before every write(2). Open addressing, linear probing; 0 is empty.
typedef struct {
  pthread_mutex_t lock;
  uint64_t *slots;
  size_t cap, len;
} idset_t;

typedef struct item {
  struct item *next;
  int devfd;
  uint32_t len; // 0: the connection ended
  unsigned char data[];
} item_t;

typedef struct session {
  int fds[MAX_THREADS];
  pthread_t threads[MAX_THREADS];
  int nthreads;
  atomic_int live;
  // Requests for JS, oldest first. JS takes them while it is awake (busy, or
  // polling for a short while after); a post wakes it only when it sleeps.
  pthread_mutex_t qlock;
  item_t *head, *tail;
  atomic_int js_awake;
  atomic_int wake_pending;
  // While JS is awake it polls the kernel's queue itself, and the reader
  // threads wait here instead of in read(2): a thread blocked in read(2) is
  // woken for every request, and on 2 cores that wake-up (and the hop through
  // the queue above) costs more than JS's own next poll. `polls` counts JS's
  // polls; a reader that sees none for PARK_NS while JS is awake takes over
  // (JS is in one long request). LAYERFS_FUSE_PARK=0 turns parking off.
  int park;
  pthread_mutex_t plock;
  pthread_cond_t pcond;
  atomic_ulong polls;
  napi_threadsafe_function tsfn;
  // The JS thread's own clone, non-blocking: while it is awake it reads
  // requests itself, with no reader thread between the kernel and it.
  int js_fd;
  unsigned char *js_buf;
  idset_t nocaps;
  // LAYERFS_FUSE_STATS=FILE: where requests were read and answered, appended
  // to FILE when the session ends (native-notes/fuse-engine.md).
  const char *stats_path;
  atomic_ulong st_reader_c, st_reader_post, st_js_c, st_js_direct, st_wakes;
  atomic_ulong st_ops[64]; // requests by opcode (CUSE_INIT and others beyond: not counted)
} session_t;


typedef struct {
  session_t *s;
  int index;
} thread_arg_t;

// ---- the id set ----

static size_t slot_of(uint64_t id, size_t cap) { return (size_t) (id * 0x9E3779B97F4A7C15ull) & (cap - 1); }

static int idset_has(idset_t *set, uint64_t id) {
  int found = 0;
  pthread_mutex_lock(&set->lock);
  if (set->cap) {
    for (size_t i = slot_of(id, set->cap); set->slots[i]; i = (i + 1) & (set->cap - 1)) {
      if (set->slots[i] == id) { found = 1; break; }
    }
  }
  pthread_mutex_unlock(&set->lock);
  return found;
}

static void idset_put_locked(idset_t *set, uint64_t id) {
  size_t i = slot_of(id, set->cap);
  while (set->slots[i] && set->slots[i] != id) i = (i + 1) & (set->cap - 1);
  if (!set->slots[i]) { set->slots[i] = id; set->len++; }
}

static void idset_add(idset_t *set, uint64_t id) {
  pthread_mutex_lock(&set->lock);
  if ((set->len + 1) * 2 > set->cap) {
    size_t old = set->cap;
    uint64_t *prev = set->slots;
    size_t cap = old ? old * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) { pthread_mutex_unlock(&set->lock); return; }
    set->slots = slots; set->cap = cap; set->len = 0;
    for (size_t i = 0; i < old; i++) if (prev[i]) idset_put_locked(set, prev[i]);
    free(prev);
  }
  idset_put_locked(set, id);
  pthread_mutex_unlock(&set->lock);
}

static void idset_del(idset_t *set, uint64_t id) {
  pthread_mutex_lock(&set->lock);
  if (set->cap) {
    size_t mask = set->cap - 1, i = slot_of(id, set->cap);
    while (set->slots[i] && set->slots[i] != id) i = (i + 1) & mask;
    if (set->slots[i]) {
      // Backward-shift deletion keeps every probe chain unbroken.
      set->slots[i] = 0; set->len--;
      for (size_t j = (i + 1) & mask; set->slots[j]; j = (j + 1) & mask) {
        uint64_t v = set->slots[j];
        set->slots[j] = 0; set->len--;
        idset_put_locked(set, v);
      }
    }
  }
  pthread_mutex_unlock(&set->lock);
}

// ---- replies from C ----

static void reply(int fd, uint64_t unique, int err, const void *data, size_t len) {
  struct fuse_out_header out = { (uint32_t) (sizeof out + len), -err, unique };
  struct iovec iov[2] = { { &out, sizeof out }, { (void *) data, len } };
  // ENOENT: the request was interrupted and is gone; nothing to do.
  while (writev(fd, iov, len ? 2 : 1) < 0 && errno == EINTR) {}
}

static const char CAPS[] = "security.capability";

// Serves a request in C when it needs no overlay decision; returns 1 if it did.
static int serve_in_c(session_t *s, int fd, unsigned char *buf, size_t n) {
  struct fuse_in_header *h = (void *) buf;
  void *arg = buf + sizeof *h;
  switch (h->opcode) {
  case FUSE_READ: {
    struct fuse_read_in in = *(struct fuse_read_in *) arg;
    if (in.size > REQ_BUF - sizeof(struct fuse_out_header)) { reply(fd, h->unique, EINVAL, NULL, 0); return 1; }
    unsigned char *data = buf + sizeof(struct fuse_out_header);
    uint64_t unique = h->unique;
    size_t got = 0;
    while (got < in.size) {
      ssize_t r = pread((int) in.fh, data + got, in.size - got, (off_t) (in.offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) { if (!got) { reply(fd, unique, errno, NULL, 0); return 1; } break; }
      if (r == 0) break;
      got += (size_t) r;
    }
    struct fuse_out_header *out = (void *) buf;
    out->len = (uint32_t) (sizeof *out + got); out->error = 0; out->unique = unique;
    while (write(fd, buf, out->len) < 0 && errno == EINTR) {}
    return 1;
  }
  case FUSE_WRITE: {
    struct fuse_write_in *in = arg;
    const unsigned char *data = (const unsigned char *) (in + 1);
    if (sizeof *h + sizeof *in + in->size > n) { reply(fd, h->unique, EINVAL, NULL, 0); return 1; }
    size_t put = 0;
    while (put < in->size) {
      ssize_t r = pwrite((int) in->fh, data + put, in->size - put, (off_t) (in->offset + put));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) { if (!put) { reply(fd, h->unique, errno, NULL, 0); return 1; } break; }
      put += (size_t) r;
    }
    struct fuse_write_out out = { (uint32_t) put, 0 };
    reply(fd, h->unique, 0, &out, sizeof out);
    return 1;
  }
  case FUSE_FLUSH:
    // Our handles are local files: close() of the fd at release is all there
    // is. ENOSYS tells the kernel so, and it stops sending FLUSH on close(2).
    reply(fd, h->unique, ENOSYS, NULL, 0);
    return 1;
  case FUSE_FSYNC: {
    struct fuse_fsync_in *in = arg;
    int r = (in->fsync_flags & 1) ? fdatasync((int) in->fh) : fsync((int) in->fh);
    reply(fd, h->unique, r < 0 ? errno : 0, NULL, 0);
    return 1;
  }
  case FUSE_FALLOCATE: {
    struct fuse_fallocate_in *in = arg;
    int r = fallocate((int) in->fh, (int) in->mode, (off_t) in->offset, (off_t) in->length);
    reply(fd, h->unique, r < 0 ? errno : 0, NULL, 0);
    return 1;
  }
  case FUSE_LSEEK: {
    struct fuse_lseek_in *in = arg;
    off_t r = lseek((int) in->fh, (off_t) in->offset, (int) in->whence);
    struct fuse_lseek_out out = { (uint64_t) r };
    reply(fd, h->unique, r < 0 ? errno : 0, &out, r < 0 ? 0 : sizeof out);
    return 1;
  }
  case FUSE_INTERRUPT:
    // Every request is answered as soon as it is done; none waits to be interrupted.
    return 1;
  case FUSE_GETXATTR: {
    const char *name = (const char *) arg + sizeof(struct fuse_getxattr_in);
    if (strcmp(name, CAPS) == 0 && idset_has(&s->nocaps, h->nodeid)) {
      reply(fd, h->unique, ENODATA, NULL, 0);
      return 1;
    }
    return 0;
  }
  case FUSE_SETXATTR:
  case FUSE_REMOVEXATTR:
    idset_del(&s->nocaps, h->nodeid);
    return 0;
  case FUSE_FORGET:
    idset_del(&s->nocaps, h->nodeid);
    return 0;
  case FUSE_BATCH_FORGET: {
    struct fuse_batch_forget_in *in = arg;
    struct fuse_forget_one *one = (void *) (in + 1);
    for (uint32_t i = 0; i < in->count && (unsigned char *) (one + i + 1) <= buf + n; i++) idset_del(&s->nocaps, one[i].nodeid);
    return 0;
  }
  default:
    return 0;
  }
}

// ---- reader threads ----

#define STAT(s, counter) do { if ((s)->stats_path) atomic_fetch_add(&(s)->counter, 1); } while (0)

static void post(session_t *s, int devfd, const unsigned char *data, size_t len) {
  item_t *it = malloc(sizeof *it + len);
  if (!it) return; // out of memory: the kernel sees this request unanswered
  it->next = NULL; it->devfd = devfd; it->len = (uint32_t) len;
  if (len) memcpy(it->data, data, len);
  pthread_mutex_lock(&s->qlock);
  if (s->tail) s->tail->next = it; else s->head = it;
  s->tail = it;
  pthread_mutex_unlock(&s->qlock);
  // Pairs with setAwake(0) then take() on the JS side: one of the two sees the other.
  if (!atomic_load(&s->js_awake) && !atomic_exchange(&s->wake_pending, 1)) {
    STAT(s, st_wakes);
    napi_call_threadsafe_function(s->tsfn, NULL, napi_tsfn_nonblocking);
  }
}

static void count_op(session_t *s, const unsigned char *buf) {
  uint32_t op = ((const struct fuse_in_header *) buf)->opcode;
  if (op < 64) STAT(s, st_ops[op]);
}

#define PARK_NS 2000000L

// Returns when this reader should read: JS sleeps, or has not polled for
// PARK_NS (`*stuck_at`: the poll count JS was last seen stuck at).
static void park(session_t *s, unsigned long *stuck_at) {
  if (!s->park) return;
  pthread_mutex_lock(&s->plock);
  while (atomic_load(&s->js_awake)) {
    unsigned long seen = atomic_load(&s->polls);
    if (seen == *stuck_at) break; // still in the same request
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += PARK_NS;
    if (t.tv_nsec >= 1000000000L) { t.tv_sec++; t.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&s->pcond, &s->plock, &t);
    if (atomic_load(&s->js_awake) && atomic_load(&s->polls) == seen) { *stuck_at = seen; break; }
  }
  pthread_mutex_unlock(&s->plock);
}

static void *reader(void *p) {
  thread_arg_t a = *(thread_arg_t *) p;
  free(p);
  session_t *s = a.s;
  int fd = s->fds[a.index];
  unsigned char *buf = malloc(REQ_BUF);
  unsigned long stuck_at = (unsigned long) -1;
  while (buf) {
    park(s, &stuck_at);
    ssize_t n = read(fd, buf, REQ_BUF);
    if (n < 0) {
      // ENOENT: a request interrupted before we read it. ENODEV: unmounted.
      if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue;
      break;
    }
    if ((size_t) n < sizeof(struct fuse_in_header)) continue;
    count_op(s, buf);
    if (serve_in_c(s, fd, buf, (size_t) n)) STAT(s, st_reader_c);
    else { STAT(s, st_reader_post); post(s, fd, buf, (size_t) n); }
  }
  free(buf);
  if (atomic_fetch_sub(&s->live, 1) == 1) post(s, -1, NULL, 0);
  return NULL;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void) data;
  session_t *s = context;
  atomic_store(&s->wake_pending, 0);
  if (env && cb) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 0, NULL, NULL);
  }
}

// ---- N-API glue ----

static int64_t arg_i64(napi_env env, napi_value v) {
  int64_t d = 0;
  napi_get_value_int64(env, v, &d);
  return d;
}

static char *arg_str(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static session_t *arg_session(napi_env env, napi_value v) {
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

// start(fd, threads, wake()) -> session. The mount exists.
static napi_value start(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd = (int) arg_i64(env, argv[0]);
  int nthreads = (int) arg_i64(env, argv[1]);
  if (nthreads < 1) nthreads = 1;
  if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
  session_t *s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->nocaps.lock, NULL);
  pthread_mutex_init(&s->qlock, NULL);
  pthread_mutex_init(&s->plock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->pcond, &ca);
  pthread_condattr_destroy(&ca);
  s->fds[0] = fd;
  s->nthreads = 1;
  s->js_fd = -1;
  s->stats_path = getenv("LAYERFS_FUSE_STATS");
  int jfd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  uint32_t master = (uint32_t) fd;
  if (jfd >= 0 && ioctl(jfd, FUSE_DEV_IOC_CLONE, &master) == 0 && (s->js_buf = malloc(REQ_BUF))) s->js_fd = jfd;
  else if (jfd >= 0) close(jfd);
  const char *park = getenv("LAYERFS_FUSE_PARK");
  s->park = s->js_fd >= 0 && !(park && strcmp(park, "0") == 0);
  for (int i = 1; i < nthreads; i++) {
    int c = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (c < 0) break;
    uint32_t master = (uint32_t) fd;
    if (ioctl(c, FUSE_DEV_IOC_CLONE, &master) < 0) { close(c); break; }
    s->fds[s->nthreads++] = c;
  }
  napi_value name;
  napi_create_string_utf8(env, "layerfs-fuse", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, s, call_js, &s->tsfn);
  atomic_store(&s->live, s->nthreads);
  for (int i = 0; i < s->nthreads; i++) {
    thread_arg_t *a = malloc(sizeof *a);
    a->s = s; a->index = i;
    pthread_create(&s->threads[i], NULL, reader, a);
  }
  napi_value ext;
  napi_create_external(env, s, NULL, NULL, &ext);
  return ext;
}

// finish(session): after the connection ended; joins the threads, closes the fds.
static napi_value finish(napi_env env, napi_callback_info info) {
  ARGS(1);
  session_t *s = arg_session(env, argv[0]);
  if (!s || !s->tsfn) return num(env, -EINVAL);
  for (int i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
  for (int i = 0; i < s->nthreads; i++) close(s->fds[i]);
  for (item_t *it = s->head, *next; it; it = next) { next = it->next; free(it); }
  if (s->js_fd >= 0) close(s->js_fd);
  free(s->js_buf);
  s->js_fd = -1;
  s->js_buf = NULL;
  s->head = s->tail = NULL;
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  s->tsfn = NULL;
  free(s->nocaps.slots);
  s->nocaps.slots = NULL;
  FILE *f = s->stats_path ? fopen(s->stats_path, "a") : NULL;
  if (f) {
    fprintf(f, "reader_c %lu reader_post %lu js_c %lu js_direct %lu wakes %lu",
            atomic_load(&s->st_reader_c), atomic_load(&s->st_reader_post), atomic_load(&s->st_js_c),
            atomic_load(&s->st_js_direct), atomic_load(&s->st_wakes));
    for (int op = 0; op < 64; op++) if (atomic_load(&s->st_ops[op])) fprintf(f, " op%d %lu", op, atomic_load(&s->st_ops[op]));
    fputc('\n', f);
    fclose(f);
  }
  return num(env, 0);
}

// take(session, meta: Int32Array) -> Buffer | null: the oldest request for JS
// (meta[0] = the fd to answer on), else one read from the kernel on the JS
// thread's clone; an empty Buffer once the connection ended. meta[1] counts
// the requests C served on the way (JS's polling counts them as activity).
// With nothing to take it yields the CPU once: on 2 cores the thread that
// would send the next request (or a reader thread holding one) may be waiting
// for this one.
static napi_value take(napi_env env, napi_callback_info info) {
  ARGS(2);
  session_t *s = arg_session(env, argv[0]);
  napi_value out;
  atomic_fetch_add(&s->polls, 1);
  pthread_mutex_lock(&s->qlock);
  item_t *it = s->head;
  if (it) { s->head = it->next; if (!s->head) s->tail = NULL; }
  pthread_mutex_unlock(&s->qlock);
  napi_typedarray_type t; size_t n; void *meta; napi_value ab; size_t off;
  napi_get_typedarray_info(env, argv[1], &t, &n, &meta, &ab, &off);
  ((int32_t *) meta)[1] = 0;
  if (!it) {
    // Nothing queued: read the kernel's queue directly, serving what C can.
    for (int i = 0; s->js_fd >= 0 && i < 64; i++) {
      ssize_t r = read(s->js_fd, s->js_buf, REQ_BUF);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break; // EAGAIN: nothing pending; ENODEV is the reader threads' to report
      if ((size_t) r < sizeof(struct fuse_in_header)) continue;
      count_op(s, s->js_buf);
      if (serve_in_c(s, s->js_fd, s->js_buf, (size_t) r)) {
        STAT(s, st_js_c);
        ((int32_t *) meta)[1]++;
        continue;
      }
      STAT(s, st_js_direct);
      ((int32_t *) meta)[0] = s->js_fd;
      napi_create_buffer_copy(env, (size_t) r, s->js_buf, NULL, &out);
      return out;
    }
    if (((int32_t *) meta)[1] == 0) sched_yield();
    napi_get_null(env, &out);
    return out;
  }
  ((int32_t *) meta)[0] = it->devfd;
  napi_create_buffer_copy(env, it->len, it->data, NULL, &out);
  free(it);
  return out;
}

// setAwake(session, awake): while JS is awake, posts do not wake it.
static napi_value set_awake(napi_env env, napi_callback_info info) {
  ARGS(2);
  session_t *s = arg_session(env, argv[0]);
  bool awake = false;
  napi_get_value_bool(env, argv[1], &awake);
  if (awake || !s->park) {
    atomic_store(&s->js_awake, awake ? 1 : 0);
    return num(env, 0);
  }
  // Going to sleep: one parked reader goes back to read(2) now; the others
  // see it when their wait ends.
  pthread_mutex_lock(&s->plock);
  atomic_store(&s->js_awake, 0);
  pthread_cond_signal(&s->pcond);
  pthread_mutex_unlock(&s->plock);
  return num(env, 0);
}

// noCaps(session, nodeid): JS answered ENODATA for security.capability.
static napi_value no_caps(napi_env env, napi_callback_info info) {
  ARGS(2);
  session_t *s = arg_session(env, argv[0]);
  if (s) idset_add(&s->nocaps, (uint64_t) arg_i64(env, argv[1]));
  return num(env, 0);
}

// reply(devfd, buf, len): one whole reply or notification.
static napi_value js_reply(napi_env env, napi_callback_info info) {
  ARGS(3);
  int fd = (int) arg_i64(env, argv[0]);
  void *data; size_t len;
  napi_get_buffer_info(env, argv[1], &data, &len);
  size_t want = (size_t) arg_i64(env, argv[2]);
  if (want > len) return num(env, -EINVAL);
  ssize_t r;
  while ((r = write(fd, data, want)) < 0 && errno == EINTR) {}
  return num(env, r < 0 ? -errno : 0);
}

// backingOpen(devfd, fd) -> backing id (passthrough, Linux 6.9+)
static napi_value backing_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  struct fuse_backing_map map = { (int32_t) arg_i64(env, argv[1]), 0, 0 };
  int r = ioctl((int) arg_i64(env, argv[0]), FUSE_DEV_IOC_BACKING_OPEN, &map);
  return num(env, r < 0 ? -errno : r);
}

static napi_value backing_close(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t id = (uint32_t) arg_i64(env, argv[1]);
  int r = ioctl((int) arg_i64(env, argv[0]), FUSE_DEV_IOC_BACKING_CLOSE, &id);
  return num(env, r < 0 ? -errno : r);
}

// mount(source, target, type, flags, data): mount(2), as root.
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(5);
  char *src = arg_str(env, argv[0]), *target = arg_str(env, argv[1]), *type = arg_str(env, argv[2]);
  char *data = arg_str(env, argv[4]);
  int r = mount(src, target, type, (unsigned long) arg_i64(env, argv[3]), data);
  int err = r < 0 ? -errno : 0;
  free(src); free(target); free(type); free(data);
  return num(env, err);
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  ARGS(2);
  char *target = arg_str(env, argv[0]);
  int r = umount2(target, (int) arg_i64(env, argv[1]));
  int err = r < 0 ? -errno : 0;
  free(target);
  return num(env, err);
}

// fusermount(program, mountpoint, options) -> fd: a mount for a non-root
// user. fusermount3 mounts and sends the /dev/fuse fd back over a socket
// named by _FUSE_COMMFD (SCM_RIGHTS); Node cannot receive an fd.
static napi_value js_fusermount(napi_env env, napi_callback_info info) {
  ARGS(3);
  char *prog = arg_str(env, argv[0]), *mnt = arg_str(env, argv[1]), *opts = arg_str(env, argv[2]);
  int sv[2], result = -EIO;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { result = -errno; goto out; }
  int flags = fcntl(sv[1], F_GETFD);
  fcntl(sv[1], F_SETFD, flags & ~FD_CLOEXEC);
  char commfd[32];
  snprintf(commfd, sizeof commfd, "_FUSE_COMMFD=%d", sv[1]);
  size_t nenv = 0;
  while (environ[nenv]) nenv++;
  char **envp = calloc(nenv + 2, sizeof *envp);
  for (size_t i = 0; i < nenv; i++) envp[i] = environ[i];
  envp[nenv] = commfd;
  char *args[] = { prog, "-o", opts, "--", mnt, NULL };
  // Node opens stderr close-on-exec; fusermount3 says why it failed there.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, 2, 2);
  pid_t pid;
  int sr = posix_spawnp(&pid, prog, &fa, NULL, args, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  close(sv[1]);
  if (sr != 0) { result = -sr; close(sv[0]); goto out; }
  char byte;
  char ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { &byte, 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl };
  ssize_t r;
  while ((r = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (cm && cm->cmsg_type == SCM_RIGHTS) memcpy(&result, CMSG_DATA(cm), sizeof(int));
  close(sv[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (result < 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0) result = -EPERM;
out:
  free(prog); free(mnt); free(opts);
  return num(env, result);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "start", NULL, start, NULL, NULL, NULL, napi_default, NULL },
    { "finish", NULL, finish, NULL, NULL, NULL, napi_default, NULL },
    { "noCaps", NULL, no_caps, NULL, NULL, NULL, napi_default, NULL },
    { "take", NULL, take, NULL, NULL, NULL, napi_default, NULL },
    { "setAwake", NULL, set_awake, NULL, NULL, NULL, napi_default, NULL },
    { "reply", NULL, js_reply, NULL, NULL, NULL, napi_default, NULL },
    { "backingOpen", NULL, backing_open, NULL, NULL, NULL, napi_default, NULL },
    { "backingClose", NULL, backing_close, NULL, NULL, NULL, napi_default, NULL },
    { "mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL },
    { "umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL },
    { "fusermount", NULL, js_fusermount, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
