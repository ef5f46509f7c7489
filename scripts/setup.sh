#!/usr/bin/env bash
# Installs everything tbuild needs on a fresh Debian/Ubuntu machine, as root: Node 24 (when
# the machine has none or an older one), runc and the Debian tools the tests use, the npm
# dependencies, and the compiled CLI. Idempotent and quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# runc runs RUN steps; mount/attr/mknod handle overlay layers; skopeo, umoci and
# docker-registry are the third-party checks and the loopback registry in tests;
# busybox-static makes base images; openssl and apache2-utils set up registry auth in tests;
# openssh-client gives the ssh-agent that RUN --mount=type=ssh tests forward; sudo lets the
# Action's tests run it as a runner's unprivileged user does; qemu-user-static runs RUN steps
# of other architectures (--platform linux/arm64); slirp4netns gives RUN its default,
# isolated network with outbound access; uidmap (newuidmap/newgidmap) maps subordinate ids
# into rootless builds' user namespaces, and passwd's useradd makes the rootless tests' users;
# fuse-overlayfs is the snapshotter between kernel overlayfs and copying (the snapshotter
# tests build with each); debootstrap and debian-archive-keyring make the real Debian base the
# rootless Debian test installs a package on (Ubuntu has no Debian keyring by default).
packages=(runc slirp4netns util-linux attr coreutils busybox-static skopeo umoci docker-registry
  openssl apache2-utils openssh-client xz-utils bzip2 gzip git ca-certificates curl sudo
  qemu-user-static uidmap passwd fuse-overlayfs time debootstrap debian-archive-keyring)
missing=()
for p in "${packages[@]}"; do
  # A runc from elsewhere (Docker's containerd.io on GitHub's runners) is fine, and Debian's
  # runc package would conflict with it.
  if [ "$p" = runc ] && command -v runc >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The multi-platform tests take arm64's busybox-static from Debian's archive (apt-get download
# busybox-static:arm64), which needs the architecture known to dpkg. Debian's mirrors carry
# arm64; Ubuntu's keep it on ports.ubuntu.com, so only Debian is set up here.
if grep -q '^ID=debian' /etc/os-release 2>/dev/null && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  say "adding arm64 to dpkg's architectures (for the multi-platform tests' base image)"
  dpkg --add-architecture arm64
  apt-get -o DPkg::Lock::Timeout=600 update -qq
fi

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 24 ]; then
  say "installing Node 24 from the npm registry (found $(node --version 2>/dev/null || echo none))"
  npm install -g --prefix /usr/local --no-fund --no-audit node@24 >/dev/null
  hash -r
  export PATH="/usr/local/bin:$PATH"
fi
if [ "$(node_major)" -lt 24 ]; then
  echo "setup: Node 24 is required but $(command -v node) is $(node --version); put /usr/local/bin first on PATH" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  # \`npm ci\` installs exactly the lock and never rewrites it, so a fresh clone stays clean.
  # The lock lists every platform's optional packages (as npm 11 writes it), so ci accepts it.
  npm ci --no-fund --no-audit >/dev/null
fi
say "compiling"
npm run --silent build
# The README's examples call `tbuild`: put this checkout's CLI on PATH (TBUILD_BIN_DIR moves it).
bin_dir="${TBUILD_BIN_DIR:-/usr/local/bin}"
mkdir -p "$bin_dir"
ln -sfn "$PWD/bin/tbuild.js" "$bin_dir/tbuild"
say "ready: $("$bin_dir/tbuild" --version), node $(node --version), runc $(runc --version | head -n1 | awk '{print $3}')"
