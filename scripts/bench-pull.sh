#!/usr/bin/env bash
# Cold pulls timed side by side (issue 12): a fresh-store `tbuild pull` with a build of
# another checkout (BEFORE), with this checkout (AFTER), and `$DOCKER pull` after
# `$DOCKER rmi`, alternated run by run so that the machine's noise falls on all three.
#   BEFORE=/path/to/other/bin/tbuild.js RUNS=5 scripts/bench-pull.sh IMAGE...
# Prints each run's seconds, then the medians and the load average. Docker keeps a layer
# that its build cache still uses, and then does not download it ("Already exists"):
# PRUNE_BUILDER=1 runs `$DOCKER builder prune -af` before each of its pulls.
set -euo pipefail
BEFORE=${BEFORE:?BEFORE=path to the bin/tbuild.js to compare with}
AFTER=${AFTER:-$(cd "$(dirname "$0")/.." && pwd)/bin/tbuild.js}
DOCKER=${DOCKER:-docker28}
RUNS=${RUNS:-5}
[ $# -gt 0 ] || set -- localhost:5000/debian:bookworm localhost:5000/bench/multi:1
work=$(mktemp -d /var/tmp/tbuild-bench-pull-XXXXXX)
trap 'rm -rf "$work"' EXIT

seconds() { # run "$@" quietly; print its wall time
  local start end
  start=$(date +%s.%N)
  "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; return 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "load before: $(uptime)"
for image in "$@"; do
  : >"$work/before" >"$work/after" >"$work/docker"
  for run in $(seq "$RUNS"); do
    for which in before after docker; do
      rm -rf "$work/store"
      if [ "$which" = docker ]; then
        "$DOCKER" rmi -f "$image" >/dev/null 2>&1 || true
        [ "${PRUNE_BUILDER:-}" = 1 ] && "$DOCKER" builder prune -af >/dev/null
        t=$(seconds "$DOCKER" pull "$image")
        if grep -q 'Already exists' "$work/out"; then
          echo "$DOCKER kept a layer of $image: not a cold pull (try PRUNE_BUILDER=1)" >&2
          exit 1
        fi
      else
        bin=$BEFORE
        [ "$which" = after ] && bin=$AFTER
        t=$(seconds "$bin" pull --root "$work/store" "$image")
      fi
      echo "$t" >>"$work/$which"
      printf '%s run %s %-6s %6.2f s\n' "$image" "$run" "$which" "$t"
    done
  done
  printf '%s medians: before %.2f s, after %.2f s, %s %.2f s\n' "$image" \
    "$(median <"$work/before")" "$(median <"$work/after")" "$DOCKER" "$(median <"$work/docker")"
done
echo "load after: $(uptime)"
