#!/usr/bin/env bash
# A second harness for the Action: its sources (src/action/main.ts) run under GitHub's
# @github/local-action, which reads the inputs from a .env file, on fixtures/example. The
# e2e tests run the committed bundle as the runner does; this checks the sources under
# another loader (tsx). Not part of `npm run check`: local-action brings ~230 packages, so
# it is installed into a temporary folder here. Needs root and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm install --prefix "$work/tools" --no-audit --no-fund @github/local-action@7 >/dev/null 2>&1
# local-action starts `npm exec tsx` in the action's folder: let npm fetch tsx without asking.
export npm_config_yes=true

mkdir -p "$work/temp" "$work/files"
bash scripts/busybox-rootfs.sh "$work/busybox.tar"
node bin/tbuild.js import --root "$work/temp/tbuild" -c 'CMD ["sh"]' "$work/busybox.tar" \
  localhost:5000/busybox:latest >/dev/null
: >"$work/files/output"
: >"$work/files/summary"
cat >"$work/.env" <<ENV
GITHUB_WORKSPACE=$PWD
RUNNER_TEMP=$work/temp
GITHUB_OUTPUT=$work/files/output
GITHUB_STEP_SUMMARY=$work/files/summary
GITHUB_REPOSITORY=tbuild/tbuild
GITHUB_SHA=$(git rev-parse HEAD)
GITHUB_REF=refs/heads/main
INPUT_CONTEXT=fixtures/example
INPUT_TAGS=tbuild-example:local-action
INPUT_PUSH=false
INPUT_LOAD=false
ENV
"$work/tools/node_modules/.bin/local-action" run "$PWD" src/action/main.ts "$work/.env"
echo "== GITHUB_OUTPUT"
cat "$work/files/output"
grep -q '^sha256:[0-9a-f]\{64\}$' "$work/files/output"
echo "== job summary"
cat "$work/files/summary"
