/**
 * `-t NAME -o type=oci,dest=…` names the image in index.json as buildx does
 * (`org.opencontainers.image.ref.name`, `io.containerd.image.name`), and the layout is one
 * that OCI tools take: `umoci unpack --image dir:TAG` (umoci is installed by
 * scripts/setup.sh) finds the tag and unpacks the base image's layers and the build's.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { makeContext } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

let work: string;
let store: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'tbuild-oci-names-'));
  store = path.join(work, 'store');
  await ensureBusyboxImage(store);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('-t with an oci output', () => {
  it('annotates index.json with the name, so umoci unpack --image dir:TAG works', async () => {
    const context = await makeContext({
      Dockerfile: 'FROM localhost:5000/busybox:latest\nRUN echo hello > /hello\n',
    });
    const archive = path.join(work, 'app.tar');
    const result = await runTbuild([
      'build',
      '--root',
      store,
      '-q',
      '-t',
      'myapp:1.0',
      '-o',
      `type=oci,dest=${archive}`,
      context,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const layout = path.join(work, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-C', layout, '-xf', archive]);
    const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
      manifests: Array<{ annotations?: Record<string, string> }>;
    };
    expect(index.manifests.map((m) => m.annotations)).toEqual([
      {
        'io.containerd.image.name': 'docker.io/library/myapp:1.0',
        'org.opencontainers.image.ref.name': '1.0',
      },
    ]);
    const bundle = path.join(work, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:1.0`, bundle], {
      stdio: 'pipe',
    });
    expect(readFileSync(path.join(bundle, 'rootfs/hello'), 'utf8')).toBe('hello\n');
    expect(readFileSync(path.join(bundle, 'rootfs/etc/passwd'), 'utf8')).toContain('root:x:0:0');
  });
});
