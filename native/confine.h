/*
 * What a container may do, applied by layerfs-init (see native-notes/init.md).
 * The policy (which capabilities, which syscalls) is decided by the runtime
 * (src/runtime/isolation.ts); this only carries it out.
 */
#ifndef LAYERFS_CONFINE_H
#define LAYERFS_CONFINE_H

#include <stdint.h>

struct confinement {
  /* Capabilities kept in the bounding set, and in the permitted, effective
   * and inheritable sets when the command runs as root (a non-root user gets
   * none). Bit N is capability N. */
  uint64_t caps;
  /* A compiled seccomp profile (see confine.c) open for reading (opened
   * before pivot_root, CLOEXEC), or -1 for none. */
  int seccomp_fd;
  int no_new_privs;
};

/* The process part, called right before exec, after the identity switch
 * (which must have been done with PR_SET_KEEPCAPS set). Exits 125 on failure. */
void confine(const struct confinement *c);

/* The mount part, called once the rootfs has /proc, /dev and /sys and before
 * pivot_root: masks and read-only binds over the kernel's knobs in /proc and /sys. */
void confine_mounts(const char *rootfs);

/* Makes ROOTFS/PATH read-only with everything mounted below it. */
void readonly_tree(const char *path);

/* --privileged: copies the host's device nodes into ROOTFS/dev. */
void host_devices(const char *rootfs);

/* Binds the container's cgroup dirs under ROOTFS/sys/fs/cgroup (read-only unless WRITABLE). */
void mount_cgroups(const char *rootfs, const char *const *dirs, int n, int writable);

/* Moves this process into each cgroup dir (its children follow it). */
void join_cgroups(const char *const *dirs, int n);

#endif
