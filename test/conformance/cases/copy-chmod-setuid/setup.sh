#!/bin/sh
# Files with the modes --chmod must give, for recording the expectation with Docker.
set -e
cd "$(dirname "$0")/context"
mkdir -p reference
printf a > reference/a4755; chmod 4755 reference/a4755
printf a > reference/a2750; chmod 2750 reference/a2750
