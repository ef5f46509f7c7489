/**
 * The conformance suite's base image, `localhost:5000/busybox:latest`, made the way
 * the reference registry serves it to Docker (docs/dev/reference-systems.md) (Debian's busybox-static, one
 * symlink per applet, root in /etc/passwd and /etc/group, `CMD ["sh"]`), and imported into a
 * tbuild store so that `FROM localhost:5000/busybox` builds without any registry.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runTbuild } from './run-tbuild.ts';

const execFileAsync = promisify(execFile);

/** The reference name, the same in Docker (via the loopback registry) and in tbuild's store. */
export const BUSYBOX_REF = 'localhost:5000/busybox:latest';

/**
 * The same shell steps as the reference systems' set-up, in the same order, so that modes, owners and
 * the applet list come out identical (the rootfs top directory is mktemp's 0700, as there).
 */
const MAKE_ROOTFS = `set -euo pipefail
b=$1; out=$2
mkdir -p $b/bin $b/tmp $b/etc; cp /bin/busybox $b/bin/busybox
for c in $($b/bin/busybox --list); do [ -e $b/bin/$c ] || ln -s busybox $b/bin/$c; done
echo 'root:x:0:0:root:/root:/bin/sh' > $b/etc/passwd; echo 'root:x:0:' > $b/etc/group
tar --numeric-owner -C $b -c . > "$out"`;

/** Write the busybox root filesystem tarball (uncompressed) to `file`. */
export async function makeBusyboxRootfsTar(file: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-busybox-'));
  try {
    await execFileAsync('bash', ['-c', MAKE_ROOTFS, 'make-rootfs', dir, file], {
      env: { ...process.env, LC_ALL: 'C' },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Import the busybox image into the tbuild store at `storeRoot` as
 * `localhost:5000/busybox:latest` (with `CMD ["sh"]`, like `docker import -c`).
 * Pass `rootfsTar` (from makeBusyboxRootfsTar) to import the very same bytes into several
 * stores, e.g. to compare image digests across them; `ref` and `changes` (Dockerfile
 * instructions, as `import -c`) make another image of it. Returns the config digest it prints.
 */
export async function ensureBusyboxImage(
  storeRoot: string,
  opts: { rootfsTar?: string; ref?: string; changes?: string[] } = {},
): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-busybox-tar-'));
  try {
    const tar = opts.rootfsTar ?? path.join(dir, 'rootfs.tar');
    if (!opts.rootfsTar) await makeBusyboxRootfsTar(tar);
    const result = await runTbuild([
      'import',
      '--root',
      storeRoot,
      '-c',
      'CMD ["sh"]',
      ...(opts.changes ?? []).flatMap((c) => ['-c', c]),
      tar,
      opts.ref ?? BUSYBOX_REF,
    ]);
    if (result.code !== 0) {
      throw new Error(
        `tbuild import of ${BUSYBOX_REF} failed (exit ${String(result.code)}):\n${result.stderr}`,
      );
    }
    return result.stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
