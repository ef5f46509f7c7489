#!/bin/sh
# git stores only 644/755: set the modes under test here.
set -e
cd "$(dirname "$0")/context"
for n in suid sgid both private exec ro; do printf '%s\n' "$n" > $n; done
mkdir -p sticky setgid-dir private-dir
chmod 4755 suid; chmod 2755 sgid; chmod 6750 both; chmod 0600 private; chmod 0711 exec; chmod 0444 ro
chmod 1777 sticky; chmod 2775 setgid-dir; chmod 0700 private-dir
printf 'x' > sticky/f
