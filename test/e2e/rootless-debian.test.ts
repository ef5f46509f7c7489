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
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDebianAppContext } from '../helpers/debian-app.ts';
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
      const rootfs = path.join(work, 'debian.tar');
      // debootstrap (about a minute) while the rest is made; afterAll removes the user.
      const [, , testUser] = await Promise.all([
        makeDebianRootfsTar(rootfs).then(() => chmod(rootfs, 0o644)),
        writeDebianAppContext(path.join(work, 'ctx')),
        createUser(true).then((u) => (user = u)),
      ]);
      const reach = await runCommandAs(testUser, 'test', ['-r', TBUILD_BIN]);
      if (reach.code !== 0)
        throw new Error(
          `${testUser.name} cannot read ${TBUILD_BIN}: give others search permission on its directories (chmod o+x)`,
        );
      const importArgs = ['-c', 'CMD ["bash"]', rootfs, DEBIAN_REF];
      const rootStore = path.join(work, 'root-store');
      rootTar = path.join(work, 'out/root.tar');
      // The user's import runs beside root's import and build.
      const asUser = runAs(testUser, ['import', ...importArgs]);
      const asRoot = await runTbuild(['import', '--root', rootStore, ...importArgs]);
      if (asRoot.code !== 0) throw new Error(`import as root failed:\n${asRoot.stderr}`);
      const root = await runTbuild([
        'build',
        '--root',
        rootStore,
        ...buildArgs,
        ...output(rootTar),
        path.join(work, 'ctx'),
      ]);
      if (root.code !== 0) throw new Error(`the build as root failed:\n${root.stderr}`);
      const imported = await asUser;
      if (imported.code !== 0)
        throw new Error(`import as ${testUser.name} failed:\n${imported.stderr}`);
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
      const listing = await layerListings(userTar, -3);
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
