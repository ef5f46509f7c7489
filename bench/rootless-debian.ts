/**
 * Rootless against root on a Debian app (issue 16's note): the app of
 * test/e2e/rootless-debian.test.ts (apt installs a package that adds a system user and owns
 * files as it) built with tbuild as root, with tbuild as an ordinary user, and with buildah
 * as that user (its default rootless storage, vfs, and overlay), each from a base already
 * pulled and with no cache (`--no-cache`, `--network=none` for all). Prints each one's wall
 * times, then whether the results match: tbuild's root and rootless OCI outputs blob for blob,
 * and buildah's layers against tbuild's in the files, modes and owners the RUNs made.
 *
 *   npm run build && node bench/rootless-debian.ts [runs]
 *
 * Run as root (it creates the user, as the test does). Needs what that test needs, and
 * buildah for its rows (they are left out without it). Report `uptime` with the figures.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeDebianAppContext } from '../test/helpers/debian-app.ts';
import { DEBIAN_REF, makeDebianRootfsTar } from '../test/helpers/debian-base.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import {
  blobsOf,
  createUser,
  layerListings,
  removeUser,
  runAs,
  runCommandAs,
  type TestUser,
} from '../test/helpers/rootless-users.ts';
import { runTbuild, type RunTbuildResult } from '../test/helpers/run-tbuild.ts';

const exec = promisify(execFile);
const runs = Number(process.argv[2] ?? 3);

function must(what: string, result: RunTbuildResult): RunTbuildResult {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stderr}`);
  return result;
}

async function timed(run: () => Promise<RunTbuildResult>, what: string): Promise<number> {
  const start = performance.now();
  must(what, await run());
  return (performance.now() - start) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Listing lines of the files the app's RUNs made (the package's, /etc's account files). */
function appLines(listing: string): string[] {
  const keep = /(tbuild-demo|etc\/(passwd|group|shadow|gshadow)|dpkg\/statoverride)/;
  return listing
    .split('\n')
    .filter((line) => keep.test(line) && !line.includes('.wh.') && !line.includes('dpkg/info/'))
    .map((line) => {
      const [mode, owner, size, , , ...name] = line.split(/\s+/);
      return `${mode} ${owner} ${mode?.startsWith('d') ? '-' : size} ${name.join(' ')}`;
    })
    .sort();
}

const work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-bench-rootless-debian-'));
await chmod(work, 0o755);
await mkdir(path.join(work, 'out'), { mode: 0o777 });
await chmod(path.join(work, 'out'), 0o777);
const registry = await startRegistry();
let user: TestUser | undefined;
try {
  const base = `${registry.host}/bench/debian:bookworm-minbase`;
  const rootfs = path.join(work, 'debian.tar');
  await makeDebianRootfsTar(rootfs);
  await chmod(rootfs, 0o644);
  const ctx = path.join(work, 'ctx');
  await writeDebianAppContext(ctx, base);
  user = await createUser(true);
  const rootStore = path.join(work, 'root-store');
  must(
    'import',
    await runTbuild(['import', '--root', rootStore, '-c', 'CMD ["bash"]', rootfs, DEBIAN_REF]),
  );
  must('push', await runTbuild(['tag', '--root', rootStore, DEBIAN_REF, base]));
  must('push', await runTbuild(['push', '--root', rootStore, base]));
  must('pull as the user', await runAs(user, ['pull', base]));
  const buildah = await exec('buildah', ['--version']).then(
    (r) => r.stdout.trim(),
    () => undefined,
  );
  const storages = ['vfs', 'overlay'].map((driver) => [
    `--storage-driver=${driver}`,
    `--root=${user!.home}/buildah-${driver}`,
    `--runroot=${user!.home}/buildah-${driver}-run`,
  ]);
  if (buildah) {
    for (const storage of storages) {
      must(
        'buildah pull',
        await runCommandAs(user, 'buildah', [...storage, 'pull', '--tls-verify=false', base]),
      );
    }
  }

  const common = ['--no-cache', '--network=none', '--progress=plain'];
  const rows: Array<[string, () => Promise<RunTbuildResult>]> = [
    ['tbuild, root', () => runTbuild(['build', '--root', rootStore, ...common, ctx])],
    ['tbuild, rootless', () => runAs(user!, ['build', ...common, ctx])],
  ];
  if (buildah) {
    for (const storage of storages) {
      rows.push([
        `buildah, rootless, ${storage[0]!.slice('--storage-driver='.length)}`,
        () =>
          runCommandAs(user!, 'buildah', [
            ...storage,
            'bud',
            '--layers',
            '--no-cache',
            '--network=none',
            '--tls-verify=false',
            '-t',
            'bench-app',
            ctx,
          ]),
      ]);
    }
  }
  const times = new Map<string, number[]>(rows.map(([name]) => [name, []]));
  // Each round starts with another row: a row after buildah's vfs one (which writes the
  // whole base) would pay for that write-back.
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of [...rows.slice(i % rows.length), ...rows.slice(0, i % rows.length)])
      times.get(name)!.push(await timed(run, name));
  }
  console.log(`load: ${(await exec('uptime')).stdout.trim()}`);
  console.log(`${runs} runs each, median (min–max), seconds; ${buildah ?? 'no buildah'}`);
  for (const [name, xs] of times) {
    const s = (x: number) => x.toFixed(2);
    console.log(
      `  ${name.padEnd(34)} ${s(median(xs))} (${s(Math.min(...xs))}–${s(Math.max(...xs))})`,
    );
  }

  // Results: tbuild's two OCI outputs, and the files the RUNs made in each tool's layers.
  const out = (name: string) => path.join(work, 'out', name);
  const oci = ['--build-arg', 'SOURCE_DATE_EPOCH=0', '--progress=plain', '--network=none'];
  const ociOut = (dest: string) => ['-o', `type=oci,dest=${dest},rewrite-timestamp=true`];
  must(
    'root export',
    await runTbuild(['build', '--root', rootStore, ...oci, ...ociOut(out('root.tar')), ctx]),
  );
  must('rootless export', await runAs(user, ['build', ...oci, ...ociOut(out('user.tar')), ctx]));
  const same =
    JSON.stringify(await blobsOf(out('root.tar'))) ===
    JSON.stringify(await blobsOf(out('user.tar')));
  console.log(`tbuild root and rootless OCI outputs byte-identical: ${same}`);
  const tbuildFiles = appLines(await layerListings(out('user.tar'), 1));
  if (buildah) {
    for (const storage of storages) {
      const driver = storage[0]!.slice('--storage-driver='.length);
      const dest = out(`buildah-${driver}.tar`);
      must(
        'buildah push',
        await runCommandAs(user, 'buildah', [
          ...storage,
          'push',
          'bench-app',
          `oci-archive:${dest}`,
        ]),
      );
      const theirs = appLines(await layerListings(dest, 1));
      const diff = [
        ...tbuildFiles.filter((l) => !theirs.includes(l)).map((l) => `  only tbuild:  ${l}`),
        ...theirs.filter((l) => !tbuildFiles.includes(l)).map((l) => `  only buildah: ${l}`),
      ];
      console.log(
        `buildah (${driver}) and tbuild: the RUNs' files, modes and owners ${diff.length ? 'differ' : 'match'} (${tbuildFiles.length} entries)`,
      );
      for (const line of diff) console.log(line);
    }
  }
} finally {
  await registry.stop();
  await removeUser(user);
  await rm(work, { recursive: true, force: true });
}
