/** Test helpers: lower Dockerfile text with a small in-memory set of base images. */
import type { Definition, ExecOp, FileOp, Vertex } from '../../llb/types.ts';
import type { ImageConfig } from '../../shared/oci.ts';
import { dockerfileToLLB } from '../convert.ts';
import type { BaseImageResolver, BuildOptions, LowerResult } from '../types.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };

function config(partial: Partial<ImageConfig['config']>): ImageConfig {
  return {
    architecture: 'amd64',
    os: 'linux',
    config: partial,
    rootfs: { type: 'layers', diff_ids: ['sha256:' + 'a'.repeat(64)] as `sha256:${string}`[] },
    history: [{ created_by: '/bin/sh -c #(nop) ADD file:abc in / ' }],
  };
}

/** Images the tests can use as bases. */
export const TEST_IMAGES: Record<string, ImageConfig> = {
  'docker.io/library/alpine:3.20': config({
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Cmd: ['/bin/sh'],
  }),
  'docker.io/library/busybox:latest': config({ Cmd: ['sh'] }),
  'docker.io/library/node:24': config({
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_VERSION=24.0.0'],
    Entrypoint: ['docker-entrypoint.sh'],
    Cmd: ['node'],
    WorkingDir: '/',
  }),
  'docker.io/library/onbuild:1': config({
    Env: ['PATH=/bin'],
    OnBuild: ['RUN echo triggered', 'WORKDIR /built'],
  }),
  'docker.io/library/golang:1.23': config({
    Env: ['PATH=/go/bin:/usr/local/go/bin:/usr/bin:/bin', 'GOPATH=/go'],
    WorkingDir: '/go',
  }),
};

/** Docker Hub short names → the fully qualified keys above. */
function normalise(ref: string): string {
  let name = ref;
  if (!/[:@]/.test(name.split('/').at(-1)!)) name += ':latest';
  if (!name.includes('/')) name = `library/${name}`;
  if (!/^[^/]+[.:][^/]*\//.test(name) && !name.startsWith('localhost/')) name = `docker.io/${name}`;
  return name;
}

export const testResolver: BaseImageResolver & { calls: string[] } = {
  calls: [],
  async resolve(ref) {
    const key = normalise(ref);
    this.calls.push(key);
    const found = TEST_IMAGES[key];
    return found ? { ref: key, config: structuredClone(found) } : undefined;
  },
};

/** Lower `dockerfile` with defaults suitable for tests. */
export function lower(dockerfile: string, opts: Partial<BuildOptions> = {}): Promise<LowerResult> {
  return dockerfileToLLB(
    dockerfile,
    {
      buildArgs: {},
      platform: amd64,
      buildPlatform: amd64,
      dockerignore: [],
      file: 'Dockerfile',
      sourceDateEpoch: 0,
      ...opts,
    },
    testResolver,
  );
}

/** Vertices of one op type, in graph order. */
export function opsOf<T extends Vertex['op']['type']>(
  def: Definition,
  type: T,
): Array<Extract<Vertex['op'], { type: T }>> {
  return Object.values(def.vertices)
    .map((v) => v.op)
    .filter((op): op is Extract<Vertex['op'], { type: T }> => op.type === type);
}

/** The last exec op (the most recent RUN). */
export function lastExec(def: Definition): ExecOp {
  return opsOf(def, 'exec').at(-1)!;
}

export function lastFile(def: Definition): FileOp {
  return opsOf(def, 'file').at(-1)!;
}

/** All vertex descriptions, in graph order. */
export function descriptions(def: Definition): string[] {
  return Object.values(def.metadata).map((m) => m.description);
}

/** The environment of the last RUN of `dockerfile`. */
export async function env(
  dockerfile: string,
  buildArgs: Record<string, string> = {},
): Promise<string[]> {
  return lastExec((await lower(dockerfile, { buildArgs })).definition).env;
}

/** The error `promise` rejects with; fails the test when it resolves. */
export async function errorOf(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await promise;
  } catch (e) {
    return e as { code: string; message: string; hint?: string };
  }
  throw new Error('expected an error');
}
