#!/bin/sh
# Builds the archives under test (owners, modes, links, nested dirs) from a fixed tree.
set -e
cd "$(dirname "$0")/context"
t=$(mktemp -d)
mkdir -p $t/top/nested/deep $t/empty
printf 'hello\n' > $t/top/hello.txt
printf 'deep\n' > $t/top/nested/deep/file
printf 'run\n' > $t/top/script.sh; chmod 0750 $t/top/script.sh
printf 'suid\n' > $t/top/suid; chmod 4755 $t/top/suid
ln -s hello.txt $t/top/link
ln $t/top/hello.txt $t/top/hard
chown 1234:2345 $t/top/nested/deep/file
chmod 0700 $t/top/nested
tar --numeric-owner --sort=name --mtime=@0 -C $t -cf plain.tar top empty
gzip -n -c plain.tar > gzip.tar.gz
cp gzip.tar.gz gzip.tgz
bzip2 -c plain.tar > bzip2.tar.bz2
xz -c plain.tar > xz.tar.xz
rm -rf $t
