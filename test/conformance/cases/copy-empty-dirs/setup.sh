#!/bin/sh
# Empty directories cannot be stored in git.
set -e
cd "$(dirname "$0")/context"
mkdir -p empty nested/a/b nested/c
chmod 0700 nested/c
