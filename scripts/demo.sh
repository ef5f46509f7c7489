#!/usr/bin/env bash
# Build the example in fixtures/example for real: a busybox base image is made from
# Debian's busybox-static and imported into tbuild's store (no registry needed), then the
# two-stage Dockerfile is built, listed, exported as a docker archive and checked with skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/bin:$PATH"
tb() { node bin/tbuild.js "$@"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

bash scripts/busybox-rootfs.sh "$out/busybox.tar"
tb import -c 'CMD ["sh"]' "$out/busybox.tar" localhost:5000/busybox:latest >/dev/null
tb build --progress=plain -t tbuild-example:latest fixtures/example
tb build --progress=plain -o "type=docker,dest=$out/example.tar" -t tbuild-example:latest fixtures/example 2>/dev/null
echo
tb images
echo
echo "== skopeo inspect of the docker archive"
skopeo inspect --config "docker-archive:$out/example.tar" | grep -A12 '"config"' | head -14
echo
echo "== the image's /app/run.sh and /app/report.txt"
tb build -q -o "type=local,dest=$out/files" fixtures/example >/dev/null
cat "$out/files/app/run.sh"
cat "$out/files/app/report.txt"
