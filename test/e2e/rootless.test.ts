/**
 * Rootless builds (issue 16, ADR 17), as an ordinary user runs them: the test creates real
 * unprivileged users (one with subordinate ids, one without), runs the compiled CLI as them
 * with `runuser`, and compares their images with the same build as root. Needs root (to
 * create users), newuidmap/newgidmap (Debian's uidmap), and unprivileged user namespaces
 * (on Ubuntu 24.04 CI turns off kernel.apparmor_restrict_unprivileged_userns first).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_REF, ensureBusyboxImage, makeBusyboxRootfsTar } from '../helpers/base-images.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import {
  assertUserNamespacesAllowed,
  blobsOf,
  createUser,
  layerListings,
  removeUser,
  runAs,
  runCommandAs,
  type TestUser,
} from '../helpers/rootless-users.ts';
import { runTbuild, TBUILD_BIN } from '../helpers/run-tbuild.ts';

const exec = promisify(execFile);

/** Whiteouts (a file, a directory), an opaque directory, other owners, set-id bits, COPY --chown. */
const DOCKERFILE = `FROM ${BUSYBOX_REF}
RUN mkdir -p /a/b /c && echo old > /a/b/f && echo x > /c/y \\
 && mkdir /owned && chown 1234:1234 /owned && touch /owned/x && chown 1234:0 /owned/x && chmod 4755 /owned/x
RUN rm -rf /a/b /c && rm -f /bin/vi && mkdir -p /a/b && echo new > /a/b/g
COPY --chown=42:43 hello.txt /hello.txt
`;

/** Poll `check` every 100 ms for up to 60 s. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('timed out waiting');
}

describe('rootless builds as an ordinary user', () => {
  let user: TestUser | undefined;
  let single: TestUser | undefined;
  let work: string;
  let registry: TestRegistry;
  const buildArgs = ['--progress=plain', '--build-arg', 'SOURCE_DATE_EPOCH=0'];

  beforeAll(async () => {
    await assertUserNamespacesAllowed();
    work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-rootless-'));
    await chmod(work, 0o755);
    await mkdir(path.join(work, 'ctx'));
    await writeFile(path.join(work, 'ctx/Dockerfile'), DOCKERFILE);
    await writeFile(path.join(work, 'ctx/hello.txt'), 'hello\n');
    await mkdir(path.join(work, 'out'), { mode: 0o777 });
    await chmod(path.join(work, 'out'), 0o777);
    await makeBusyboxRootfsTar(path.join(work, 'busybox.tar'));
    await chmod(path.join(work, 'busybox.tar'), 0o644);
    registry = await startRegistry();
    // One at a time: each rewrites /etc/subuid and /etc/subgid.
    user = await createUser(true);
    single = await createUser(false);
    const reach = await runCommandAs(user, 'test', ['-r', TBUILD_BIN]);
    if (reach.code !== 0)
      throw new Error(
        `${user.name} cannot read ${TBUILD_BIN}: give others search permission on its directories (chmod o+x)`,
      );
    await ensureBusyboxImage(path.join(work, 'root-store'), {
      rootfsTar: path.join(work, 'busybox.tar'),
    });
    for (const u of [user, single]) {
      const imported = await runAs(u, [
        'import',
        '-c',
        'CMD ["sh"]',
        `${work}/busybox.tar`,
        BUSYBOX_REF,
      ]);
      if (imported.code !== 0) throw new Error(`import as ${u.name} failed:\n${imported.stderr}`);
    }
  });

  afterAll(async () => {
    await registry?.stop();
    await removeUser(user);
    await removeUser(single);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('gives layers byte-identical to a root build: whiteouts, an opaque directory, other owners, set-id bits', async () => {
    const rootTar = path.join(work, 'out/root.tar');
    const userTar = path.join(work, 'out/rootless.tar');
    const output = (dest: string) => ['-o', `type=oci,dest=${dest},rewrite-timestamp=true`];
    const root = await runTbuild([
      'build',
      '--root',
      path.join(work, 'root-store'),
      ...buildArgs,
      ...output(rootTar),
      path.join(work, 'ctx'),
    ]);
    expect(root.stderr).toContain('DONE');
    expect(root.code).toBe(0);
    const rootless = await runAs(user!, ['build', ...buildArgs, ...output(userTar), `${work}/ctx`]);
    expect(rootless.stderr).not.toContain('WARNING: no subordinate ids');
    expect(rootless.code, rootless.stderr).toBe(0);
    expect(await blobsOf(userTar)).toEqual(await blobsOf(rootTar));
    const listing = await layerListings(userTar);
    expect(listing).toMatch(/^-rwsr-xr-x 1234\/0 .* owned\/x$/m);
    expect(listing).toMatch(/^drwxr-xr-x 1234\/1234 .* owned\/$/m);
    expect(listing).toMatch(/ a\/b\/\.wh\.\.wh\.\.opq$/m);
    expect(listing).toMatch(/ \.wh\.c$/m);
    expect(listing).toMatch(/ bin\/\.wh\.vi$/m);
    expect(listing).toMatch(/^-rw-r--r-- 42\/43 .* hello\.txt$/m);
  });

  it('gives the same layers with the copying snapshotter, and says it uses it', async () => {
    const copyTar = path.join(work, 'out/rootless-copy.tar');
    const built = await runAs(
      user!,
      [
        'build',
        '--no-cache',
        ...buildArgs,
        '-o',
        `type=oci,dest=${copyTar},rewrite-timestamp=true`,
        `${work}/ctx`,
      ],
      ['TBUILD_SNAPSHOTTER=copy'],
    );
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toContain('WARNING: storage: the copying snapshotter');
    expect(await blobsOf(copyTar)).toEqual(await blobsOf(path.join(work, 'out/root.tar')));
  });

  it('with fuse-overlayfs forced: the same layers where /dev/fuse is open to the user, else a clear error', async () => {
    const fuseTar = path.join(work, 'out/rootless-fuse.tar');
    const built = await runAs(
      user!,
      [
        'build',
        '--no-cache',
        ...buildArgs,
        '-o',
        `type=oci,dest=${fuseTar},rewrite-timestamp=true`,
        `${work}/ctx`,
      ],
      ['TBUILD_SNAPSHOTTER=fuse-overlayfs'],
    );
    const fuseOpen = await runCommandAs(user!, 'test', [
      '-r',
      '/dev/fuse',
      '-a',
      '-w',
      '/dev/fuse',
    ]);
    if (fuseOpen.code !== 0) {
      // As on the project's machine (/dev/fuse is 0600 root): the mount fails and says why.
      expect(built.code).not.toBe(0);
      expect(built.stderr).toMatch(/fuse-overlayfs mount at .* failed/);
      expect(built.stderr).toContain('/dev/fuse');
      return;
    }
    expect(built.code, built.stderr).toBe(0);
    expect(await blobsOf(fuseTar)).toEqual(await blobsOf(path.join(work, 'out/root.tar')));
  });

  it('exports its cache, and a fresh store of the user imports it: no RUN runs, same image', async () => {
    const cache = path.join(work, 'out/cache-rootless');
    const ids = path.join(work, 'out');
    const exported = await runAs(user!, [
      'build',
      ...buildArgs,
      '--cache-to',
      `type=local,dest=${cache},mode=max`,
      '--iidfile',
      `${ids}/cache-first.iid`,
      `${work}/ctx`,
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    // The fresh store gets the same base image (an import would stamp a new time).
    const fresh = path.join(user!.home, 'fresh-store');
    const saved = path.join(user!.home, 'busybox-image.tar');
    const save = await runAs(user!, ['save', '-o', saved, BUSYBOX_REF]);
    expect(save.code, save.stderr).toBe(0);
    const base = await runAs(user!, ['load', '--root', fresh, '-i', saved]);
    expect(base.code, base.stderr).toBe(0);
    const imported = await runAs(user!, [
      'build',
      '--root',
      fresh,
      '--progress=json',
      '--build-arg',
      'SOURCE_DATE_EPOCH=0',
      '--cache-from',
      `type=local,src=${cache}`,
      '--iidfile',
      `${ids}/cache-second.iid`,
      `${work}/ctx`,
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    const events = imported.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { type: string; name?: string });
    const steps = (type: string) =>
      events.filter((e) => e.type === type && /^\[\d+\/\d+\] (RUN|COPY)/.test(e.name ?? ''));
    expect(steps('vertex.cached'), imported.stderr).toHaveLength(3);
    expect(steps('vertex.started')).toEqual([]);
    const first = await readFile(`${ids}/cache-first.iid`, 'utf8');
    expect(await readFile(`${ids}/cache-second.iid`, 'utf8')).toBe(first);
  });

  it('watch mode rebuilds on a change, and Ctrl-C stops it with exit code 130', async () => {
    const dir = path.join(work, 'watched');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'Dockerfile'),
      `FROM ${BUSYBOX_REF}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n`,
    );
    await writeFile(path.join(dir, 'a.txt'), 'one\n');
    await chmod(dir, 0o755);
    const iidfile = path.join(work, 'out/watch.iid');
    const env = [
      `HOME=${user!.home}`,
      `PATH=${process.env.PATH}`,
      'NO_COLOR=1',
      `USER=${user!.name}`,
    ];
    // Its own process group, so the test can send the group Ctrl-C's SIGINT.
    const child = spawn(
      'runuser',
      [
        '-u',
        user!.name,
        '--',
        'env',
        '-i',
        ...env,
        process.execPath,
        TBUILD_BIN,
        'watch',
        '--debounce',
        '50ms',
        '--iidfile',
        iidfile,
        dir,
      ],
      { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    );
    const readId = () => readFile(iidfile, 'utf8').catch(() => '');
    try {
      await waitFor(async () => (await readId()) !== '' && stderr.includes('[watch] watching'));
      const first = await readId();
      await writeFile(path.join(dir, 'a.txt'), 'two\n');
      await waitFor(async () => {
        const now = await readId();
        return now !== '' && now !== first;
      });
      await waitFor(async () => /\[watch\] build 2: image/.test(stderr));
      expect(stderr).toMatch(/COPY a\.txt \/a\.txt .*a\.txt changed/);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
    }
    expect(await exited, stderr).toBe(130);
    const mounts = path.join(user!.home, '.local/share/tbuild/mounts');
    expect(await readdir(mounts).catch(() => [])).toEqual([]);
  });

  it('pushes to a registry the image it built', async () => {
    const ref = `${registry.host}/rootless:1`;
    const pushed = await runAs(user!, ['build', ...buildArgs, '-t', ref, '--push', `${work}/ctx`]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const imageId = /writing image (sha256:[0-9a-f]{64})/.exec(pushed.stderr)?.[1];
    const res = await fetch(`${registry.url}/v2/rootless/manifests/1`, {
      headers: {
        accept:
          'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as { config: { digest: string }; layers: unknown[] };
    expect(manifest.config.digest).toBe(imageId);
    expect(manifest.layers).toHaveLength(4);
  });

  it('--load hands the image to a Docker daemon the user can reach (the docker group)', async (ctx) => {
    // A socket file can outlive its daemon (CI machines keep /var/run/docker.sock with no
    // dockerd behind it): only a daemon that answers `docker info` counts.
    const socket = await lstat('/var/run/docker.sock').catch(() => undefined);
    const group = await exec('getent', ['group', 'docker']).catch(() => undefined);
    const answers = await exec('docker', ['info'], { timeout: 20_000 }).then(
      () => true,
      () => false,
    );
    if (!socket?.isSocket() || !group || !answers) ctx.skip(); // no Docker daemon to load into
    await exec('usermod', ['-aG', 'docker', user!.name]);
    const tag = `tbuild-rootless-load:${randomBytes(4).toString('hex')}`;
    try {
      const loaded = await runAs(user!, [
        'build',
        ...buildArgs,
        '--load',
        '-t',
        tag,
        `${work}/ctx`,
      ]);
      expect(loaded.code, loaded.stderr).toBe(0);
      const imageId = /writing image (sha256:[0-9a-f]{64})/.exec(loaded.stderr)?.[1];
      const { stdout } = await exec('docker', ['image', 'inspect', '--format', '{{.Id}}', tag]);
      expect(stdout.trim()).toBe(imageId);
    } finally {
      await exec('docker', ['rmi', tag]).catch(() => undefined);
      await exec('gpasswd', ['-d', user!.name, 'docker']).catch(() => undefined);
    }
  });

  it('answers a repeated build from its memo before re-running in the namespace (ADR 23)', async () => {
    const ctx = path.join(work, 'utd');
    await mkdir(ctx);
    await writeFile(path.join(ctx, 'Dockerfile'), `FROM ${BUSYBOX_REF}\nRUN echo utd > /utd\n`);
    await chmod(ctx, 0o755);
    const iidfile = path.join(work, 'out/utd.iid');
    const build = async () => {
      await new Promise((resolve) => setTimeout(resolve, 60)); // the inputs' times settle
      const run = await runAs(user!, ['build', '--progress=plain', '--iidfile', iidfile, ctx]);
      expect(run.code, run.stderr).toBe(0);
      return run.stderr;
    };
    await build(); // builds
    expect(await build()).not.toMatch(/up to date/); // all cached: keeps the memo
    const id = await readFile(iidfile, 'utf8');
    await rm(iidfile);
    const answered = await build();
    expect(answered).toMatch(/up to date: nothing changed since the build at/);
    expect(answered).toContain(`writing image ${id}`);
    expect(await readFile(iidfile, 'utf8')).toBe(id);
    await writeFile(path.join(ctx, 'new.txt'), 'x');
    expect(await build()).not.toMatch(/up to date/);
  });

  it('writes a local output as files the user owns, so the user can remove them', async () => {
    const dest = path.join(work, 'out/local');
    const built = await runAs(user!, [
      'build',
      ...buildArgs,
      '-o',
      `type=local,dest=${dest}`,
      `${work}/ctx`,
    ]);
    expect(built.code, built.stderr).toBe(0);
    const uid = Number((await exec('id', ['-u', user!.name])).stdout.trim());
    for (const file of ['hello.txt', 'owned', 'owned/x'])
      expect((await lstat(path.join(dest, file))).uid).toBe(uid);
    expect((await lstat(path.join(dest, 'owned/x'))).mode & 0o7777).toBe(0o4755);
    const removed = await runCommandAs(user!, 'rm', ['-rf', dest]);
    expect(removed.code, removed.stderr).toBe(0);
  });

  it('leaves out, and says so, the device nodes of a base image it cannot create', async () => {
    const base = `${registry.host}/with-device:1`;
    const dir = path.join(work, 'device');
    await mkdir(dir);
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${BUSYBOX_REF}\nRUN mknod /null2 c 1 3\n`);
    const pushed = await runTbuild([
      'build',
      '--root',
      path.join(work, 'root-store'),
      '--progress=plain',
      '-t',
      base,
      '--push',
      dir,
    ]);
    expect(pushed.code, pushed.stderr).toBe(0);
    await writeFile(
      path.join(dir, 'Dockerfile'),
      `FROM ${base}\nRUN test ! -e /null2 && echo gone\n`,
    );
    await chmod(dir, 0o755);
    const built = await runAs(user!, ['build', '--progress=plain', dir]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/WARNING: .*device nodes \/null2 left out of the unpacked layer/);
    expect(built.stderr).toContain('gone');
  });

  it('tbuild doctor says rootless builds can run for this user', async () => {
    const doctor = await runAs(user!, ['doctor']);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toMatch(
      /^ok +root or rootless +running as uid \d+: builds run rootless/m,
    );
    expect(doctor.stdout).toMatch(/^ok +subordinate ids +65536 subordinate uids, 65536 gids$/m);
    // A real probe, in the user namespace builds use.
    expect(doctor.stdout).toMatch(
      /^ok +snapshotter \(storage\) +kernel overlayfs in a user namespace \(userxattr\)$/m,
    );
  });

  it('without subordinate ids, warns that chown to other ids fails, and it does', async () => {
    const doctor = await runAs(single!, ['doctor']);
    expect(doctor.stdout).toMatch(/^WARN +subordinate ids +.*no subordinate uids/m);
    const built = await runAs(single!, ['build', ...buildArgs, `${work}/ctx`]);
    expect(built.stderr).toContain(
      'WARNING: no subordinate ids for this user in /etc/subuid and /etc/subgid',
    );
    expect(built.stderr).toMatch(/chown: \/owned: Invalid argument/);
    expect(built.code).toBe(1);
  });

  it('without subordinate ids, refuses to unpack a layer whose owners it cannot map, and says why', async () => {
    const rootfs = path.join(work, 'owned-rootfs');
    await mkdir(path.join(rootfs, 'home/app'), { recursive: true });
    await writeFile(path.join(rootfs, 'home/app/notes'), 'mine\n');
    const tar = path.join(work, 'owned-rootfs.tar');
    await exec('tar', ['-cf', tar, '--owner=1234', '--group=1234', '-C', rootfs, '.']);
    await chmod(tar, 0o644);
    const imported = await runAs(single!, ['import', tar, 'localhost/owned:1']);
    expect(imported.code).not.toBe(0);
    expect(imported.stderr).toMatch(/ERROR: layer entry "\.\/home\/?" is owned by 1234:1234/);
    expect(imported.stderr).toContain('hint: Give your user 65536 subordinate ids');
  });

  it("keeps runc's state under XDG_RUNTIME_DIR, and a build killed during RUN stops it and cleans up", async () => {
    const uid = Number((await exec('id', ['-u', user!.name])).stdout.trim());
    const runtime = path.join(work, 'runtime');
    await mkdir(runtime, { mode: 0o700 });
    await chown(runtime, uid, uid);
    const dir = path.join(work, 'killed');
    await mkdir(dir);
    await writeFile(path.join(dir, 'Dockerfile'), `FROM ${BUSYBOX_REF}\nRUN sleep 9876\n`);
    await chmod(dir, 0o755);
    const running = runAs(
      user!,
      ['build', '--progress=plain', dir],
      [`XDG_RUNTIME_DIR=${runtime}`],
    );
    const containers = path.join(runtime, 'tbuild/runc');
    await waitFor(async () => (await readdir(containers).catch(() => [])).length > 0);
    // The user's own tbuild (the oldest), which runs the one in the namespace.
    const outer = (await exec('pgrep', ['-o', '-u', String(uid), '-f', 'tbuild.js build'])).stdout;
    process.kill(Number(outer.trim()), 'SIGTERM');
    const result = await running;
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toMatch(/cancel|abort|interrupt|signal/i);
    expect(await readdir(containers)).toEqual([]);
    expect(await readdir(path.join(runtime, 'tbuild/bundles'))).toEqual([]);
    await expect(exec('pgrep', ['-f', 'sleep 9876'])).rejects.toMatchObject({ code: 1 });
    const mounts = path.join(user!.home, '.local/share/tbuild/mounts');
    expect(await readdir(mounts).catch(() => [])).toEqual([]);
    // Nothing of it went to the store's own runc state (used when XDG_RUNTIME_DIR is unset).
    for (const sub of ['runc', 'bundles'])
      expect(
        await readdir(path.join(user!.home, '.local/share/tbuild/runc', sub)).catch(() => []),
      ).toEqual([]);
  });

  it('tbuild unshare passes SIGTERM on to its command', async () => {
    const uid = Number((await exec('id', ['-u', user!.name])).stdout.trim());
    const ready = path.join(work, 'runtime/ready');
    const running = runAs(user!, [
      'unshare',
      'sh',
      '-c',
      `trap 'echo got-term; exit 7' TERM; touch ${ready}; while :; do sleep 0.1; done`,
    ]);
    await waitFor(async () => (await lstat(ready).catch(() => undefined)) !== undefined);
    const outer = (await exec('pgrep', ['-o', '-u', String(uid), '-f', 'tbuild.js unshare']))
      .stdout;
    process.kill(Number(outer.trim()), 'SIGTERM');
    const result = await running;
    expect(result.stdout).toContain('got-term');
    expect(result.code).toBe(7);
  });

  it('tbuild unshare removes a store that holds files of subordinate ids, which rm alone cannot', async () => {
    const store = `${user!.home}/.local/share/tbuild`;
    const plain = await runCommandAs(user!, 'rm', ['-rf', store]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/Permission denied/);
    const unshared = await runAs(user!, ['unshare', 'rm', '-rf', store]);
    expect(unshared.code, unshared.stderr).toBe(0);
    await expect(readdir(store)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
