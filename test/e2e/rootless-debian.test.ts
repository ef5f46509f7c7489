/**
 * Rootless builds on a real Debian base (issue 16): a RUN where apt and dpkg install a
 * package that creates a system user and owns files as it, run by an ordinary user with
 * subordinate ids (through `runuser`), must give the same image, byte for byte, as the same
 * build as root. The package is made here with dpkg-deb, so the RUN needs no network.
 * Needs what test/e2e/rootless.test.ts needs, plus debootstrap and Debian's mirror
 * (test/helpers/debian-base.ts); TBUILD_TEST_OFFLINE=1 skips it where the mirror is out of
 * reach, and without that it fails there.
 *
 * Only kernel overlayfs is compared: the copying snapshotter gives another layer for this
 * RUN. It leaves out the files apt and adduser open for writing without changing them
 * (/etc/.pwd.lock, debconf's databases, dpkg's lock-frontend), which overlayfs copies up,
 * and the opaque mark overlayfs sets on the directories dpkg renames into place; Docker 28's
 * layers have both, as overlayfs's do.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_REF, TEST_OFFLINE, makeDebianRootfsTar } from '../helpers/debian-base.ts';
import {
  assertUserNamespacesAllowed,
  blobsOf,
  createUser,
  imageFile,
  layerListings,
  removeUser,
  runAs,
  runCommandAs,
  type TestUser,
} from '../helpers/rootless-users.ts';
import { runTbuild, TBUILD_BIN } from '../helpers/run-tbuild.ts';

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

/** The uid (passwd) or gid (group) of `name` in an /etc/passwd or /etc/group text. */
function idOf(text: string | undefined, name: string): number {
  const line = (text ?? '').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`${name} is not in:\n${text}`);
  return Number(line.split(':')[2]);
}

describe.skipIf(TEST_OFFLINE)(
  'rootless builds on Debian: apt installs a package with a system user',
  () => {
    let user: TestUser | undefined;
    let work: string;
    const buildArgs = ['--progress=plain', '--build-arg', 'SOURCE_DATE_EPOCH=0'];
    const output = (dest: string) => ['-o', `type=oci,dest=${dest},rewrite-timestamp=true`];
    let rootTar: string;

    beforeAll(async () => {
      await assertUserNamespacesAllowed();
      work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-rootless-debian-'));
      await chmod(work, 0o755);
      await mkdir(path.join(work, 'out'), { mode: 0o777 });
      await chmod(path.join(work, 'out'), 0o777);
      await mkdir(path.join(work, 'ctx'));
      await writeFile(path.join(work, 'ctx/Dockerfile'), DOCKERFILE);
      await makeDemoDeb(path.join(work, 'pkg'), path.join(work, 'ctx', DEB));
      await chmod(path.join(work, 'ctx', DEB), 0o644);
      const rootfs = path.join(work, 'debian.tar');
      await makeDebianRootfsTar(rootfs);
      await chmod(rootfs, 0o644);
      user = await createUser(true);
      const reach = await runCommandAs(user, 'test', ['-r', TBUILD_BIN]);
      if (reach.code !== 0)
        throw new Error(
          `${user.name} cannot read ${TBUILD_BIN}: give others search permission on its directories (chmod o+x)`,
        );
      const importArgs = ['-c', 'CMD ["bash"]', rootfs, DEBIAN_REF];
      const asRoot = await runTbuild([
        'import',
        '--root',
        path.join(work, 'root-store'),
        ...importArgs,
      ]);
      if (asRoot.code !== 0) throw new Error(`import as root failed:\n${asRoot.stderr}`);
      const asUser = await runAs(user, ['import', ...importArgs]);
      if (asUser.code !== 0) throw new Error(`import as ${user.name} failed:\n${asUser.stderr}`);
      rootTar = path.join(work, 'out/root.tar');
      const root = await runTbuild([
        'build',
        '--root',
        path.join(work, 'root-store'),
        ...buildArgs,
        ...output(rootTar),
        path.join(work, 'ctx'),
      ]);
      if (root.code !== 0) throw new Error(`the build as root failed:\n${root.stderr}`);
    }, 600_000);

    afterAll(async () => {
      await removeUser(user);
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('gives the image of the same build as root, byte for byte, with the system user’s files and ids', async () => {
      const userTar = path.join(work, 'out/rootless.tar');
      const built = await runAs(user!, ['build', ...buildArgs, ...output(userTar), `${work}/ctx`]);
      expect(built.code, built.stderr).toBe(0);
      // Subordinate ids, kernel overlayfs: no warning but slirp4netns's where /dev/net/tun is closed.
      const warnings = built.stderr
        .split('\n')
        .filter((line) => line.startsWith('WARNING') && !line.includes('/dev/net/tun'));
      expect(warnings).toEqual([]);
      expect(built.stderr).toMatch(/Adding system user `tbuild-demo' \(UID \d+\)/);
      expect(await blobsOf(userTar)).toEqual(await blobsOf(rootTar));

      const passwd = await imageFile(userTar, 'etc/passwd');
      expect(passwd).toMatch(
        /^tbuild-demo:x:\d+:\d+::\/var\/lib\/tbuild-demo:\/usr\/sbin\/nologin$/m,
      );
      const uid = idOf(passwd, 'tbuild-demo');
      const gid = idOf(await imageFile(userTar, 'etc/group'), 'tbuild-demo');
      expect(uid).toBeGreaterThanOrEqual(100);
      expect(uid).toBeLessThan(1000);
      expect(gid).toBeGreaterThanOrEqual(100);
      expect(gid).toBeLessThan(1000);
      expect(await imageFile(userTar, 'var/lib/tbuild-demo/ran')).toBe('tbuild-demo\n');

      // The layers the Dockerfile added (COPY, the apt RUN, the RUN as the system user).
      const listing = await layerListings(userTar, 3);
      const ids = `${uid}/${gid}`;
      expect(listing).toMatch(new RegExp(`^drwxr-x--- ${ids} .* var/lib/tbuild-demo/$`, 'm'));
      expect(listing).toMatch(new RegExp(`^-rw-r----- ${ids} .* var/lib/tbuild-demo/state$`, 'm'));
      expect(listing).toMatch(new RegExp(`^-rw-r--r-- ${ids} .* var/lib/tbuild-demo/ran$`, 'm'));
      expect(listing).toMatch(
        new RegExp(`^-rwsr-xr-- 0/${gid} .* usr/lib/tbuild-demo/helper$`, 'm'),
      );
      expect(listing).toMatch(/^-rwxr-sr-x 0\/8 .* usr\/bin\/tbuild-demo-report$/m);
      expect(listing).toMatch(/^drwxrwsr-x 8\/8 .* var\/spool\/tbuild-demo\/$/m);
      // shadow's files keep their group (42, shadow) in the rewritten copies adduser made.
      expect(listing).toMatch(/^-rw-r----- 0\/42 .* etc\/shadow$/m);
      expect(listing).toMatch(/ tmp\/\.wh\.tbuild-demo_1\.0_all\.deb$/m);
      expect(listing).toMatch(/ var\/log\/\.wh\.dpkg\.log$/m);
      expect(listing).toMatch(/^-rw-r--r-- 0\/0 .* var\/lib\/dpkg\/statoverride$/m);
    });
  },
);
