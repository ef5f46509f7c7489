/**
 * A Debian app whose RUN makes dpkg create files of other ids (issue 16's rootless case):
 * apt-get installs a package, made here with dpkg-deb so that the RUN needs no network,
 * whose maintainer script adds a system user and chowns files to it. Used by
 * test/e2e/rootless-debian.test.ts and bench/rootless-debian.ts.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEBIAN_REF } from './debian-base.ts';

const exec = promisify(execFile);

const DEB = 'tbuild-demo_1.0_all.deb';

/**
 * apt and dpkg log the time of day and apt's caches record file times, so the RUN removes
 * them (as reproducible images do) for two builds to give the same layer. `USER` then runs a
 * step as the new system user, whose file the layer must keep with that user's ids.
 */
const DOCKERFILE = `FROM ${DEBIAN_REF}
COPY ${DEB} /tmp/
RUN DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/${DEB} \\
 && rm -rf /tmp/${DEB} /var/log/apt/* /var/log/dpkg.log /var/cache/apt/*.bin
USER tbuild-demo
RUN id -un > /var/lib/tbuild-demo/ran
`;

/**
 * A package whose maintainer script does what packages with a daemon user do: `adduser
 * --system` a user and group, chown its state to them, and set a set-uid mode and group with
 * dpkg-statoverride. Its data tar holds a set-gid file of group mail and a set-gid directory
 * owned by mail (8:8 in Debian's base-passwd), so dpkg itself creates files of other ids.
 */
async function makeDemoDeb(dir: string, out: string): Promise<void> {
  const write = async (rel: string, text: string, mode = 0o644) => {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text);
    await chmod(path.join(dir, rel), mode);
  };
  await write(
    'DEBIAN/control',
    `Package: tbuild-demo
Version: 1.0
Architecture: all
Maintainer: tbuild tests <tests@tbuild.invalid>
Depends: adduser
Description: tbuild's rootless test package
 Creates a system user and owns files as it.
`,
  );
  await write(
    'DEBIAN/postinst',
    `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  adduser --system --group --home /var/lib/tbuild-demo --no-create-home tbuild-demo
  chown tbuild-demo:tbuild-demo /var/lib/tbuild-demo /var/lib/tbuild-demo/state
  chmod 0750 /var/lib/tbuild-demo
  chmod 0640 /var/lib/tbuild-demo/state
  dpkg-statoverride --update --add root tbuild-demo 4754 /usr/lib/tbuild-demo/helper
fi
`,
    0o755,
  );
  await write('var/lib/tbuild-demo/state', 'state\n');
  await write('usr/lib/tbuild-demo/helper', '#!/bin/sh\necho helper\n', 0o755);
  await write('usr/bin/tbuild-demo-report', '#!/bin/sh\necho report\n', 0o755);
  await chown(path.join(dir, 'usr/bin/tbuild-demo-report'), 0, 8);
  await chmod(path.join(dir, 'usr/bin/tbuild-demo-report'), 0o2755);
  await mkdir(path.join(dir, 'var/spool/tbuild-demo'), { recursive: true });
  await chown(path.join(dir, 'var/spool/tbuild-demo'), 8, 8);
  await chmod(path.join(dir, 'var/spool/tbuild-demo'), 0o2775);
  // xz: Ubuntu's dpkg-deb compresses with zstd by default. The owners are the files' own.
  await exec('dpkg-deb', ['-Zxz', '--build', dir, out]);
}

/**
 * Write the app's build context to `ctx` (made, readable by all): the Dockerfile and the
 * package, on `base` (DEBIAN_REF by default).
 */
export async function writeDebianAppContext(ctx: string, base = DEBIAN_REF): Promise<void> {
  await mkdir(ctx, { recursive: true, mode: 0o755 });
  await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE.replace(DEBIAN_REF, base));
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'tbuild-deb-'));
  try {
    await makeDemoDeb(path.join(scratch, 'pkg'), path.join(ctx, DEB));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await chmod(path.join(ctx, DEB), 0o644);
}
