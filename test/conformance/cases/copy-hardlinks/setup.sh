#!/bin/sh
# Hard links cannot be stored in git.
set -e
cd "$(dirname "$0")/context"
rm -f one two sub/three
mkdir -p sub
printf 'shared\n' > one
ln one two
ln one sub/three
