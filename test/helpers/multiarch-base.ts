/**
 * A multi-platform busybox base image, since no public registry is reachable: Debian's
 * busybox-static for amd64 (the host's /bin/busybox) and for arm64 (`apt-get download
 * busybox-static:arm64`, which needs `dpkg --add-architecture arm64`; scripts/setup.sh
 * does both), each laid out as base-images.ts lays out busybox, put in one OCI layout
 * with an image index, and copied into a registry with `skopeo copy --all`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);

/** Where the arm64 busybox binary is kept between test runs. */
const ARM64_DIR = path.join(os.tmpdir(), 'tbuild-test-busybox-arm64');

const DEBIAN_ARM64_DEB =
  'http://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_arm64.deb';
const DEBIAN_ARM64_SHA256 = '732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5';

/** Debian's arm64 busybox-static binary, downloaded once. */
export async function arm64Busybox(): Promise<string> {
  const binary = path.join(ARM64_DIR, 'root/bin/busybox');
  if (existsSync(binary)) return binary;
  await mkdir(ARM64_DIR, { recursive: true });
  // Where dpkg knows arm64 (Debian, after scripts/setup.sh), apt-get fetches it; elsewhere
  // (Ubuntu runners keep arm64 on another mirror) the same Debian 12 package is fetched from
  // Debian's archive and checked against its digest.
  await run('bash', [
    '-c',
    'set -euo pipefail; cd "$1"; ' +
      'if ! apt-get download -q busybox-static:arm64 >/dev/null 2>&1; then ' +
      'curl -fsSL --retry 3 -o busybox-static_arm64.deb "$2" && ' +
      'echo "$3  busybox-static_arm64.deb" | sha256sum -c --quiet || ' +
      '{ echo "cannot get busybox-static:arm64: run dpkg --add-architecture arm64 && apt-get update" >&2; exit 1; }; fi; ' +
      'dpkg-deb -x busybox-static_*arm64.deb root',
    'get-busybox',
    ARM64_DIR,
    DEBIAN_ARM64_DEB,
    DEBIAN_ARM64_SHA256,
  ]);
  return binary;
}

const MAKE_ROOTFS = `set -euo pipefail
bin=$1; b=$2; out=$3
mkdir -p $b/bin $b/tmp $b/etc; cp "$bin" $b/bin/busybox
for c in $(/bin/busybox --list); do [ -e $b/bin/$c ] || ln -s busybox $b/bin/$c; done
echo 'root:x:0:0:root:/root:/bin/sh' > $b/etc/passwd; echo 'root:x:0:' > $b/etc/group
tar --numeric-owner -C $b -c . > "$out"`;

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * Push `ref` (`localhost:PORT/busybox:multi`) as an index of linux/amd64 and linux/arm64
 * busybox images. Returns the index digest.
 */
export async function pushMultiArchBusybox(ref: string): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'tbuild-multiarch-'));
  try {
    const layout = path.join(work, 'layout');
    await mkdir(path.join(layout, 'blobs/sha256'), { recursive: true });
    const putBlob = async (mediaType: string, data: Buffer): Promise<Blob> => {
      const digest = sha256(data);
      await writeFile(path.join(layout, 'blobs/sha256', digest.slice(7)), data);
      return { mediaType, digest, size: data.length };
    };
    const manifests = [];
    for (const [architecture, binary] of [
      ['amd64', '/bin/busybox'],
      ['arm64', await arm64Busybox()],
    ] as const) {
      const tar = path.join(work, `${architecture}.tar`);
      await run('bash', ['-c', MAKE_ROOTFS, 'rootfs', binary, path.join(work, architecture), tar]);
      const raw = await readFile(tar);
      const layer = await putBlob('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(raw));
      const config = await putBlob(
        'application/vnd.oci.image.config.v1+json',
        Buffer.from(
          JSON.stringify({
            architecture,
            os: 'linux',
            config: {
              Cmd: ['sh'],
              Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
            },
            rootfs: { type: 'layers', diff_ids: [sha256(raw)] },
            history: [{ created_by: `busybox-static ${architecture}` }],
          }),
        ),
      );
      const manifest = await putBlob(
        'application/vnd.oci.image.manifest.v1+json',
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config,
            layers: [layer],
          }),
        ),
      );
      manifests.push({ ...manifest, platform: { architecture, os: 'linux' } });
    }
    const index = await putBlob(
      'application/vnd.oci.image.index.v1+json',
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests,
        }),
      ),
    );
    await writeFile(
      path.join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [index] }),
    );
    await writeFile(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await run('skopeo', [
      'copy',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${layout}`,
      `docker://${ref}`,
    ]);
    return index.digest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
