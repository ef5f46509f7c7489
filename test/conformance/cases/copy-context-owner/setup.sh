#!/bin/sh
# Files owned by other users in the context are copied as root:root.
set -e
cd "$(dirname "$0")/context"
printf 'x' > owned; chown 1234:5678 owned
mkdir -p owned-dir; chown 4321:8765 owned-dir
