#!/usr/bin/env bash
# Write a busybox root filesystem tarball to $1, made exactly as
# shared/scripts/reference-up.sh makes the reference image (Debian's busybox-static).
set -euo pipefail
out=$1
b=$(mktemp -d)
trap 'rm -rf "$b"' EXIT
mkdir -p "$b/bin" "$b/tmp" "$b/etc"
cp /bin/busybox "$b/bin/busybox"
for c in $("$b/bin/busybox" --list); do [ -e "$b/bin/$c" ] || ln -s busybox "$b/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$b/etc/passwd"
echo 'root:x:0:' > "$b/etc/group"
tar --numeric-owner -C "$b" -c . > "$out"
