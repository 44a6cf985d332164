#!/usr/bin/env bash
# Sets up layerfs on a fresh Debian 12 machine as root: system packages,
# npm dependencies (which build the patched fuse-native and native/ from
# source), the TypeScript build, and `layerfs` on PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the project and its tests need. One per line, with why.
PACKAGES=(
  libfuse2        # libfuse.so.2, which fuse-native links against
  libfuse-dev     # headers to build the patched fuse-native from source
  fuse3           # fusermount3 (and the fusermount link) and mount.fuse3 (mount -t fuse.layerfs)
  attr            # getfattr/setfattr, used by tests
  build-essential # node-gyp builds
  pkg-config
  patch           # scripts/build-native.js applies patches/ to fuse-native with it
  fuse-overlayfs  # benchmark peer (bench/)
  unionfs-fuse    # benchmark peer (bench/)
  debootstrap     # bench/: unpack workload builds a Debian minbase tree
  docker-registry # test/registry: a real Distribution registry on loopback
  apache2-utils   # test/registry: htpasswd for the registry's Basic auth
  skopeo          # test/registry: interop, pushing and pulling the other way
  busybox-static  # test/runtime: the tests build their own busybox image from it
  zstd            # test/store: zstd-compressed layers; push --compression zstd compresses with it
  podman          # test/store: interop, podman load/save of our archives
  runc            # podman's OCI runtime here (crun refuses the hybrid cgroup layout)
  libseccomp-dev  # native/init.c: the containers' seccomp filter
  nftables        # nft: the bridge network's NAT and published ports
  iproute2        # ip: the bridge, veth pairs and network namespaces
  buildah         # test/build: interop, the same Dockerfile built by buildah
  xz-utils        # build: ADD unpacks .tar.xz archives with xz, as docker build does
  bzip2           # build: ADD unpacks .tar.bz2 archives with bzip2, as docker build does
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "layerfs setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci runs postinstall: node-gyp for native/, then the patch and node-gyp for fuse-native.
# Again whenever the lock file, a patch or the native sources changed since.
marker=node_modules/.layerfs-installed
if [ ! -f "$marker" ] || [ -n "$(find package-lock.json patches native -newer "$marker" -not -path 'native/build*' 2>/dev/null | head -1)" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$marker"
fi
npm run --silent build

ln -sf "$PWD/bin/layerfs.js" /usr/local/bin/layerfs
echo "layerfs setup: ready ($(layerfs --version))"
