#!/usr/bin/env bash
# Runs the conformance suite rootless (issue 16): as an ordinary user with subordinate ids,
# inside the user namespace rootless builds use (`tbuild unshare`), so every case's tbuild
# takes the rootless paths (overlay with userxattr, runc's rootless spec, the user's store),
# and its image must still equal Docker's. The cases' setup scripts create files with other
# owners, which the namespace can do in a copy the user owns. Run as root after
# scripts/setup.sh; it creates the user `tbuild-rootless` when missing.
# TBUILD_SNAPSHOTTER passes on (e.g. copy, to run the suite on the copying snapshotter);
# TBUILD_ROOTLESS_REPORT=FILE also writes vitest's JSON report there (npm run test:rootless,
# which `npm run check` and CI run, writes reports/rootless.json).
# Usage: sudo bash scripts/test-rootless.sh [vitest args…]
set -euo pipefail
cd "$(dirname "$0")/.."
user=tbuild-rootless
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$user"
fi
for f in /etc/subuid /etc/subgid; do
  if ! grep -q "^$user:" "$f" 2>/dev/null; then
    start=$(awk -F: 'BEGIN { m = 100000 } $2 + $3 > m { m = $2 + $3 } END { print m }' "$f" 2>/dev/null || echo 100000)
    echo "$user:$start:65536" >>"$f"
  fi
done
if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" = 1 ]; then
  echo "AppArmor restricts unprivileged user namespaces: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" >&2
  exit 1
fi
npm run build >/dev/null
home=$(getent passwd "$user" | cut -d: -f6)
copy="$home/tbuild-checkout"
# A stale copy holds files of subordinate ids: only the namespace can remove them.
if [ -d "$copy" ]; then
  runuser -u "$user" -- env HOME="$home" PATH="$PATH" node bin/tbuild.js unshare rm -rf "$copy"
fi
runuser -u "$user" -- mkdir -p "$copy"
tar --exclude=./node_modules --exclude=./.git -c . | runuser -u "$user" -- tar -x -C "$copy"
runuser -u "$user" -- ln -s "$PWD/node_modules" "$copy/node_modules"
cd "$copy"
report=()
if [ -n "${TBUILD_ROOTLESS_REPORT:-}" ]; then
  report=(--reporter=default --reporter=json --outputFile.json="$copy/reports/rootless.json")
fi
# vitest's default config loader writes next to node_modules (root's): `runner` does not.
status=0
runuser -u "$user" -- env -i HOME="$home" PATH="$PATH" TMPDIR=/tmp NO_COLOR=1 \
  ${TBUILD_SNAPSHOTTER:+TBUILD_SNAPSHOTTER="$TBUILD_SNAPSHOTTER"} \
  "$(command -v node)" bin/tbuild.js unshare \
  "$(command -v node)" node_modules/vitest/vitest.mjs run --configLoader runner --project e2e \
  "${report[@]}" test/conformance/conformance.test.ts "$@" || status=$?
if [ -n "${TBUILD_ROOTLESS_REPORT:-}" ] && [ -f "$copy/reports/rootless.json" ]; then
  cp "$copy/reports/rootless.json" "$TBUILD_ROOTLESS_REPORT"
fi
exit $status
