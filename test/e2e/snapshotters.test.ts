/**
 * The three snapshotters (kernel overlayfs, fuse-overlayfs, the copying one; ADR 17) leave
 * the same upper directory for the same changes: whiteouts as character devices 0:0,
 * re-created directories opaque, changed files whole with owner, mode and xattrs. Then the
 * same Dockerfile built with each gives byte-identical layers. Needs root (mounts); the
 * fuse-overlayfs cases need fuse-overlayfs and /dev/fuse (scripts/setup.sh installs it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  access,
  appendFile,
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountCopy } from '../../src/exec/copy-snapshot.ts';
import { mountFuseOverlay } from '../../src/exec/fuse-overlay.ts';
import { mountKernelOverlay, type Mount } from '../../src/exec/overlay.ts';
import { probeSnapshotter, type SnapshotterName } from '../../src/exec/snapshotter.ts';
import { BUSYBOX_REF, ensureBusyboxImage, makeBusyboxRootfsTar } from '../helpers/base-images.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

const exec = promisify(execFile);

const fuseReason = await (async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-fuse-probe-'));
  try {
    return await probeSnapshotter('fuse-overlayfs', dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
})();
const BACKENDS: SnapshotterName[] = [
  'overlay',
  ...(fuseReason ? [] : ['fuse-overlayfs' as const]),
  'copy',
];

/** Two lower layers: a base, and one with a whiteout and an opaque directory of its own. */
async function makeLowers(dir: string): Promise<void> {
  const base = path.join(dir, 'l1');
  await mkdir(path.join(base, 'd/sub'), { recursive: true });
  await mkdir(path.join(base, 'e'), { recursive: true });
  await mkdir(path.join(base, 'keep/deep'), { recursive: true });
  await writeFile(path.join(base, 'a'), 'a\n');
  await writeFile(path.join(base, 'd/x'), 'x\n');
  await writeFile(path.join(base, 'd/sub/y'), 'y\n');
  await writeFile(path.join(base, 'e/z'), 'z\n');
  await writeFile(path.join(base, 'keep/deep/f'), 'f\n');
  await writeFile(path.join(base, 'h1'), 'linked\n');
  await link(path.join(base, 'h1'), path.join(base, 'h2'));
  await symlink('a', path.join(base, 's'));
  await writeFile(path.join(base, 'owned'), 'owned\n');
  await chown(path.join(base, 'owned'), 1234, 5678);
  await writeFile(path.join(base, 'suid'), '#!/bin/sh\n');
  await chmod(path.join(base, 'suid'), 0o4755);
  await exec('setfattr', ['-n', 'user.note', '-v', 'kept', path.join(base, 'a')]);
  // A name that is not ASCII keeps its attributes when it is copied up too.
  await writeFile(path.join(base, 'café'), 'café\n');
  await exec('setfattr', ['-n', 'user.note', '-v', 'accent', path.join(base, 'café')]);
  const top = path.join(dir, 'l2');
  await mkdir(path.join(top, 'e'), { recursive: true });
  await exec('mknod', ['-m', '0', path.join(top, 'e/z'), 'c', '0', '0']);
  await mkdir(path.join(top, 'keep'), { recursive: true });
  await exec('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(top, 'keep')]);
  await writeFile(path.join(top, 'keep/only'), 'only\n');
  await writeFile(path.join(top, 'b'), 'b\n');
}

/** The same changes through each mount: what a RUN step might do. */
async function change(root: string): Promise<void> {
  const seen = (await readdir(root)).sort();
  expect(seen).toEqual(['a', 'b', 'café', 'd', 'e', 'h1', 'h2', 'keep', 'owned', 's', 'suid']);
  expect(await readdir(path.join(root, 'e'))).toEqual([]);
  expect(await readdir(path.join(root, 'keep'))).toEqual(['only']);
  await rm(path.join(root, 'b'));
  await rm(path.join(root, 'd'), { recursive: true });
  await mkdir(path.join(root, 'd'));
  await writeFile(path.join(root, 'd/new'), 'new\n');
  await appendFile(path.join(root, 'h1'), 'more\n');
  await chown(path.join(root, 'owned'), 4321, 8765);
  await chmod(path.join(root, 'a'), 0o600);
  await chmod(path.join(root, 'café'), 0o600);
  await mkdir(path.join(root, 'n/m'), { recursive: true });
  await writeFile(path.join(root, 'n/m/f'), 'f\n');
  await rm(path.join(root, 'keep/only'));
  await writeFile(path.join(root, 'e/again'), 'again\n');
}

/** Everything about an upper dir but times: type, mode, owner, content, device, xattrs, links. */
async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const { stdout } = await exec('getfattr', [
    '-R',
    '-h',
    '-d',
    '-m',
    '-',
    '--absolute-names',
    root,
  ]);
  // overlayfs's bookkeeping (origin, impure) is never carried into a layer; opaque is.
  const attrs = stdout
    .replaceAll(root, '<upper>')
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .filter((l) => !/^(trusted|user)\.overlay\./.test(l) || /\.overlay\.opaque=/.test(l))
        .join('\n'),
    )
    .filter((block) => block.includes('='))
    .sort()
    .join('\n\n');
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(path.join(root, r));
      let what = `${r} ${(st.mode >>> 0).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isCharacterDevice()) what += ` dev ${st.rdev}`;
      else if (st.isFile()) {
        const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
        if (first) what += ` link ${first}`;
        else {
          inodes.set(st.ino, r);
          const hash = createHash('sha256').update(await readFile(path.join(root, r)));
          what += ` ${hash.digest('hex').slice(0, 12)}`;
        }
      }
      lines.push(what);
      if (st.isDirectory()) await visit(r);
    }
  };
  await visit('');
  return [...lines, attrs];
}

async function mountWith(name: SnapshotterName, dir: string): Promise<Mount> {
  const target = path.join(dir, 'm');
  await mkdir(target, { recursive: true });
  const lower = [path.join(dir, 'l2'), path.join(dir, 'l1')];
  const upper = path.join(dir, 'u');
  const work = path.join(dir, 'w');
  await mkdir(upper, { recursive: true });
  await mkdir(work, { recursive: true });
  if (name === 'overlay')
    return mountKernelOverlay({
      snapshotsDir: dir,
      lower: ['l2', 'l1'],
      upper: 'u',
      work: 'w',
      target,
    });
  if (name === 'fuse-overlayfs') return mountFuseOverlay({ lower, upper, work, target });
  return mountCopy({ lower, upper, target });
}

describe('snapshotters', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-snapshotters-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('leave the same upper directory for the same changes', async () => {
    const uppers = new Map<SnapshotterName, string[]>();
    for (const name of BACKENDS) {
      const dir = path.join(work, `direct-${name}`);
      await mkdir(dir);
      await makeLowers(dir);
      const mount = await mountWith(name, dir);
      try {
        await change(mount.target);
      } finally {
        await mount.unmount();
      }
      uppers.set(name, await describeTree(path.join(dir, 'u')));
    }
    const overlay = uppers.get('overlay')!;
    expect(overlay.join('\n')).toContain('b 20000 0:0 dev 0');
    expect(overlay.join('\n')).toContain('trusted.overlay.opaque="y"');
    for (const [name, upper] of uppers) expect({ name, upper }).toEqual({ name, upper: overlay });
  });

  it('copy: a read-only view shows the merged layers and leaves nothing behind', async () => {
    const dir = path.join(work, 'readonly');
    await mkdir(dir);
    await makeLowers(dir);
    const target = path.join(dir, 'm');
    await mkdir(target);
    const mount = await mountCopy({ lower: [path.join(dir, 'l2'), path.join(dir, 'l1')], target });
    expect((await readdir(target)).sort()).toEqual([
      'a',
      'b',
      'café',
      'd',
      'e',
      'h1',
      'h2',
      'keep',
      'owned',
      's',
      'suid',
    ]);
    expect((await lstat(path.join(target, 'suid'))).mode & 0o7777).toBe(0o4755);
    expect((await lstat(path.join(target, 'owned'))).uid).toBe(1234);
    const { stdout } = await exec('getfattr', [
      '-n',
      'user.note',
      '--only-values',
      path.join(target, 'a'),
    ]);
    expect(stdout).toBe('kept');
    await mount.unmount();
    expect(await readdir(target)).toEqual([]);
  });
});

describe('builds with each snapshotter', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-snapshotter-builds-'));
    await mkdir(path.join(work, 'ctx'));
    await writeFile(
      path.join(work, 'ctx/Dockerfile'),
      `FROM ${BUSYBOX_REF}
RUN mkdir -p /dir/sub /gone && echo 1 > /dir/sub/f && echo 2 > /gone/g && echo app:x:1000:1000::/app:/bin/sh >> /etc/passwd \\
 && mkdir /app && chown 1000 /app
RUN rm -f /bin/vi && rm -rf /gone && rm -rf /dir && mkdir /dir && touch /dir/x && chown 1000 /dir/x \\
 && head -c 9000000 /dev/zero > /dir/big
COPY --chown=42:43 hello.txt /hello.txt
USER app
RUN echo hi > /app/f && test "$(stat -c %u /app/f)" = 1000
`,
    );
    await writeFile(path.join(work, 'ctx/hello.txt'), 'hello\n');
    await makeBusyboxRootfsTar(path.join(work, 'busybox.tar'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(`give byte-identical layers (${BACKENDS.join(', ')}${fuseReason ? `; fuse-overlayfs skipped: ${fuseReason}` : ''})`, async () => {
    const diffIds = new Map<SnapshotterName, string[]>();
    for (const name of BACKENDS) {
      const store = path.join(work, `store-${name}`);
      await ensureBusyboxImage(store, { rootfsTar: path.join(work, 'busybox.tar') });
      const dest = path.join(work, `${name}.tar`);
      const built = await runTbuild(
        [
          'build',
          '--root',
          store,
          '--progress=plain',
          '--build-arg',
          'SOURCE_DATE_EPOCH=0',
          '-o',
          `type=oci,dest=${dest},rewrite-timestamp=true`,
          path.join(work, 'ctx'),
        ],
        { env: { ...process.env, TBUILD_SNAPSHOTTER: name } },
      );
      expect(built.code, built.stderr).toBe(0);
      if (name !== 'overlay') expect(built.stderr).toContain(`storage: `);
      diffIds.set(name, await layerDiffIds(dest));
      // The image in the store lists the diff IDs recorded when each layer was made (its
      // attributes read early only where the layer is written in place, and the second
      // RUN's layer, with an opaque directory, large enough to be hashed in a worker):
      // `save` must give layers whose hashes are those.
      const tagged = await runTbuild(
        [
          'build',
          '--root',
          store,
          '--progress=plain',
          '-t',
          `snap-${name}:1`,
          '--iidfile',
          path.join(work, `${name}.iid`),
          path.join(work, 'ctx'),
        ],
        { env: { ...process.env, TBUILD_SNAPSHOTTER: name } },
      );
      expect(tagged.code, tagged.stderr).toBe(0);
      const saved = path.join(work, `${name}-saved.tar`);
      const save = await runTbuild(['save', '--root', store, '-o', saved, `snap-${name}:1`]);
      expect(save.code, save.stderr).toBe(0);
      const { configured, hashed, config } = await savedDiffIds(saved);
      expect({ name, hashed }).toEqual({ name, hashed: configured });
      // `save` writes the image as built: a config it had to correct would get another ID.
      const imageId = (await readFile(path.join(work, `${name}.iid`), 'utf8')).trim();
      expect({ name, config }).toEqual({ name, config: `blobs/sha256/${imageId.slice(7)}` });
    }
    const overlay = diffIds.get('overlay')!;
    expect(overlay).toHaveLength(5);
    for (const [name, ids] of diffIds) expect({ name, ids }).toEqual({ name, ids: overlay });
  });
});

/** The diff IDs in the image config of an OCI layout tar. */
async function layerDiffIds(tar: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-oci-'));
  try {
    await exec('tar', ['-xf', tar, '-C', dir]);
    const blob = (d: string) => path.join(dir, 'blobs/sha256', d.slice('sha256:'.length));
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as {
      config: { digest: string };
    };
    const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as {
      rootfs: { diff_ids: string[] };
    };
    await access(blob(manifest.config.digest));
    return config.rootfs.diff_ids;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A `save` archive's config, its diff IDs as the config lists them, and as its layers hash. */
async function savedDiffIds(
  tar: string,
): Promise<{ configured: string[]; hashed: string[]; config: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-saved-'));
  try {
    await exec('tar', ['-xf', tar, '-C', dir]);
    const [entry] = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Array<{
      Config: string;
      Layers: string[];
    }>;
    const config = JSON.parse(await readFile(path.join(dir, entry!.Config), 'utf8')) as {
      rootfs: { diff_ids: string[] };
    };
    const hashed: string[] = [];
    for (const layer of entry!.Layers) {
      const { stdout } = await exec('sh', [
        '-c',
        'gzip -dcf "$1" | sha256sum',
        'sh',
        path.join(dir, layer),
      ]);
      hashed.push(`sha256:${stdout.split(' ')[0]}`);
    }
    return { configured: config.rootfs.diff_ids, hashed, config: entry!.Config };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
