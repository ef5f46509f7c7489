/**
 * `--cache-to` / `--cache-from`: a build exports its cache from store A; a build in a
 * fresh, empty store B imports it and runs no RUN (each RUN writes the time, so the same
 * image ID proves it); a changed source file reruns only the steps that read it. The
 * registry is the real docker-registry with token auth; the exported cache is checked
 * with skopeo. type=gha runs against azurite with a SIMULATED Twirp cache service.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBusyboxImage } from '../helpers/base-images.ts';
import { build, makeContext, workSteps } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';
import { startGhaCacheService, type GhaCacheService } from '../helpers/gha-cache-service.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

/** The base comes from the registry too: the fresh stores start empty, as a CI runner does. */
const dockerfile = (base: string) => `FROM ${base} AS build
COPY a.txt /a.txt
RUN date +%s%N > /stamp-build && cat /a.txt > /a.out
FROM ${base}
COPY --from=build /stamp-build /a.out /
COPY b.txt /b.txt
RUN date +%s%N > /stamp && cat /b.txt > /b.out
`;
const run = promisify(execFile);
const FINAL_STEPS = ['[stage-1 4/4] RUN date +%s%N > /stamp && cat /b.txt > /b.out'];

let work: string;
let context: string;
let changed: string;
let registry: TestRegistry;
const savedDockerConfig = process.env.DOCKER_CONFIG;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tbuild-cache-'));
  registry = await startRegistry({ auth: 'token' });
  const auth = Buffer.from(`tbuild:${registry.users.tbuild}`).toString('base64');
  await writeFile(
    path.join(work, 'config.json'),
    JSON.stringify({ auths: { [registry.host]: { auth } } }),
  );
  process.env.DOCKER_CONFIG = work;
  const base = `${registry.host}/busybox:latest`;
  const seed = path.join(work, 'seed');
  await ensureBusyboxImage(seed, { ref: base });
  const pushed = await runTbuild(['push', '--root', seed, base]);
  expect(pushed.code, pushed.stderr).toBe(0);
  const Dockerfile = dockerfile(base);
  context = await makeContext({ Dockerfile, 'a.txt': 'a\n', 'b.txt': 'b\n' });
  changed = await makeContext({ Dockerfile, 'a.txt': 'a\n', 'b.txt': 'b2\n' });
}, 60_000);

afterAll(async () => {
  if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
  else process.env.DOCKER_CONFIG = savedDockerConfig;
  await registry?.stop();
  for (const dir of [work, context, changed])
    if (dir) await rm(dir, { recursive: true, force: true });
});

let stores = 0;
/** A new, empty store: a fresh CI runner. */
const freshStore = () => path.join(work, `store-${++stores}`);

async function buildId(store: string, ctx: string, args: string[]) {
  const iid = path.join(work, `iid-${stores}-${Math.random()}`);
  const run = await build(store, ctx, ['--iidfile', iid, ...args]);
  expect(run.code, run.stderr).toBe(0);
  return { ...run, id: await readFile(iid, 'utf8') };
}

/** Store A exports with `to`; fresh stores import with `from` and hit, or rerun one step. */
async function roundTrip(to: string[], from: string[]) {
  const first = await buildId(freshStore(), context, [...to]);
  expect(workSteps(first.ran)).toHaveLength(5);
  const again = await buildId(freshStore(), context, [...from]);
  expect(workSteps(again.ran)).toEqual([]);
  expect(again.id).toBe(first.id);
  const edited = await buildId(freshStore(), changed, [...from]);
  expect(workSteps(edited.ran)).toEqual(['[stage-1 3/4] COPY b.txt /b.txt', ...FINAL_STEPS]);
  return { first, again };
}

describe('--cache-to type=local / --cache-from type=local', () => {
  it('gives a fresh store every step from an OCI layout directory', async () => {
    const dir = path.join(work, 'local-cache');
    await roundTrip(
      ['--cache-to', `type=local,dest=${dir},mode=max`],
      ['--cache-from', `type=local,src=${dir}`],
    );
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ annotations: Record<string, string> }>;
    };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'latest',
    ]);
  });

  it('warns about a missing source directory and builds cold', async () => {
    const run = await build(freshStore(), context, [
      '--cache-from',
      `type=local,src=${path.join(work, 'nowhere')}`,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.events).toContainEqual(
      expect.objectContaining({ type: 'warning', message: expect.stringMatching(/not found/) }),
    );
    expect(workSteps(run.ran)).toHaveLength(5);
  });

  it('refuses a blob whose digest does not match and reruns that step', async () => {
    const dir = path.join(work, 'corrupt-cache');
    await buildId(freshStore(), context, ['--cache-to', `type=local,dest=${dir}`]);
    // Corrupt every layer blob of the cache (the config and manifest stay readable).
    const manifestDigest = (
      JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
        manifests: Array<{ digest: string }>;
      }
    ).manifests[0]!.digest;
    const manifest = JSON.parse(
      await readFile(path.join(dir, 'blobs/sha256', manifestDigest.slice(7)), 'utf8'),
    ) as { layers: Array<{ digest: string }> };
    for (const layer of manifest.layers)
      await writeFile(path.join(dir, 'blobs/sha256', layer.digest.slice(7)), 'not this layer');
    const run = await build(freshStore(), context, ['--cache-from', `type=local,src=${dir}`]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.events).toContainEqual(
      expect.objectContaining({
        type: 'warning',
        message: expect.stringMatching(/blob sha256:\w+ mismatch/),
      }),
    );
    expect(workSteps(run.ran)).toContain(FINAL_STEPS[0]);
  });

  it('stays readable when two builds export to one directory at once, and drops unused blobs', async () => {
    const dir = path.join(work, 'shared-cache');
    const [one, two] = await Promise.all([
      buildId(freshStore(), context, ['--cache-to', `type=local,dest=${dir}`]),
      buildId(freshStore(), changed, ['--cache-to', `type=local,dest=${dir}`]),
    ]);
    // The last writer's entry for the tag wins; whichever it was, its build hits in full.
    const from = ['--cache-from', `type=local,src=${dir}`];
    const again = await buildId(freshStore(), context, from);
    if (again.id === one.id) expect(workSteps(again.ran)).toEqual([]);
    else {
      const other = await buildId(freshStore(), changed, from);
      expect(other.id).toBe(two.id);
      expect(workSteps(other.ran)).toEqual([]);
    }
    const blobs = await readdir(path.join(dir, 'blobs/sha256'));
    const referenced = new Set<string>();
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    for (const entry of index.manifests) {
      referenced.add(entry.digest.slice(7));
      const m = JSON.parse(
        await readFile(path.join(dir, 'blobs/sha256', entry.digest.slice(7)), 'utf8'),
      ) as { config: { digest: string }; layers: Array<{ digest: string }> };
      for (const d of [m.config, ...m.layers]) referenced.add(d.digest.slice(7));
    }
    expect(blobs.sort()).toEqual([...referenced].sort());
  });
});

describe('--cache-to type=registry / --cache-from REF', () => {
  it('exports a BuildKit-format cache that skopeo reads and a fresh store hits', async () => {
    const ref = `${registry.host}/app:cache`;
    await roundTrip(['--cache-to', `type=registry,ref=${ref},mode=max`], ['--cache-from', ref]);
    // Asynchronously: the token server answers skopeo from this very process.
    const { stdout } = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `tbuild:${registry.users.tbuild}`,
      `docker://${ref}`,
    ]);
    const raw = JSON.parse(stdout) as {
      mediaType: string;
      config: { mediaType: string };
      layers: unknown[];
    };
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(raw.config.mediaType).toBe('application/vnd.buildkit.cacheconfig.v0');
    expect(raw.layers.length).toBeGreaterThan(0);
  });

  it('mode=min (the default) exports the final image’s steps, and a fresh store hits them', async () => {
    const ref = `${registry.host}/app:min`;
    await buildId(freshStore(), context, ['--cache-to', `type=registry,ref=${ref}`]);
    const again = await buildId(freshStore(), context, ['--cache-from', ref]);
    expect(workSteps(again.ran)).toEqual([]);
  });

  it('stays readable when two builds export to one ref at once', async () => {
    const ref = `${registry.host}/app:shared`;
    const [one, two] = await Promise.all([
      buildId(freshStore(), context, ['--cache-to', `type=registry,ref=${ref}`]),
      buildId(freshStore(), changed, ['--cache-to', `type=registry,ref=${ref}`]),
    ]);
    // The last manifest PUT wins, and it names only blobs that are there: its build hits.
    const again = await buildId(freshStore(), context, ['--cache-from', ref]);
    if (again.id === one.id) expect(workSteps(again.ran)).toEqual([]);
    else {
      const other = await buildId(freshStore(), changed, ['--cache-from', ref]);
      expect(other.id).toBe(two.id);
      expect(workSteps(other.ran)).toEqual([]);
    }
  });

  it('warns and builds cold when the cache ref does not exist', async () => {
    const run = await build(freshStore(), context, [
      '--cache-from',
      `type=registry,ref=${registry.host}/app:none`,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.events).toContainEqual(expect.objectContaining({ type: 'warning' }));
  });

  it('fails on an export it cannot write, unless ignore-error=true', async () => {
    const bad = 'type=registry,ref=127.0.0.1:1/app:cache';
    const failed = await build(freshStore(), context, ['--cache-to', bad]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('exporting cache to registry 127.0.0.1:1/app:cache');
    const ignored = await build(freshStore(), context, ['--cache-to', `${bad},ignore-error=true`]);
    expect(ignored.code, ignored.stderr).toBe(0);
  });
});

describe('lazy import (a fresh CI runner)', () => {
  const creds = () => ['--tls-verify=false', '--creds', `tbuild:${registry.users.tbuild}`];
  /** The layer blobs a registry cache names (skopeo reads its manifest). */
  async function cacheLayers(ref: string): Promise<string[]> {
    const { stdout } = await run('skopeo', ['inspect', '--raw', ...creds(), `docker://${ref}`]);
    return (JSON.parse(stdout) as { layers: Array<{ digest: string }> }).layers.map(
      (l) => l.digest,
    );
  }
  const storedBlobs = async (store: string) =>
    new Set((await readdir(path.join(store, 'blobs/sha256'))).map((hex) => `sha256:${hex}`));

  it('pushes a fully cached build to the cache’s registry without fetching a layer', async () => {
    const cacheRef = `${registry.host}/lazy/cache:main`;
    const first = await buildId(freshStore(), context, [
      '--cache-to',
      `type=registry,ref=${cacheRef},mode=max`,
    ]);
    const layers = await cacheLayers(cacheRef);
    expect(layers.length).toBeGreaterThan(0);
    const store = freshStore();
    const image = `${registry.host}/lazy/app:pushed`;
    const pushed = await buildId(store, context, ['--cache-from', cacheRef, '--push', '-t', image]);
    expect(workSteps(pushed.ran)).toEqual([]);
    expect(pushed.id).toBe(first.id);
    // No layer blob came into the store: the registry mounted them from the cache's repository.
    const stored = await storedBlobs(store);
    expect(layers.filter((d) => stored.has(d))).toEqual([]);
    expect(pushed.events).not.toContainEqual(
      expect.objectContaining({
        type: 'task.started',
        name: expect.stringMatching(/^importing cache layer/),
      }),
    );
    // The pushed image is whole: skopeo copies every blob (checking digests), and its
    // config is the built one.
    const out = path.join(work, 'pushed-copy');
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      `tbuild:${registry.users.tbuild}`,
      `docker://${image}`,
      `dir:${out}`,
    ]);
    const { stdout: config } = await run('skopeo', [
      'inspect',
      '--raw',
      '--config',
      ...creds(),
      `docker://${image}`,
    ]);
    expect(`sha256:${createHash('sha256').update(config).digest('hex')}`).toBe(first.id);

    // Steps run on imported hits later: their layers are fetched and unpacked then.
    const edited = await buildId(store, changed, ['--cache-from', cacheRef]);
    expect(workSteps(edited.ran)).toEqual(['[stage-1 3/4] COPY b.txt /b.txt', ...FINAL_STEPS]);
    // Without the cache, layers this store never fetched are not hits: the build runs them.
    const cold = await build(store, context);
    expect(cold.code, cold.stderr).toBe(0);
  });

  it('keeps a stored image whole, and writes a result’s files out of lazy layers', async () => {
    const cacheRef = `${registry.host}/lazy/cache:files`;
    await buildId(freshStore(), context, ['--cache-to', `type=registry,ref=${cacheRef}`]);
    const layers = await cacheLayers(cacheRef);
    // Stored only: the blobs are fetched (checked), not unpacked; the store stays whole.
    const store = freshStore();
    const stored = await buildId(store, context, ['--cache-from', cacheRef, '-t', 'lazy:stored']);
    expect(workSteps(stored.ran)).toEqual([]);
    const blobs = await storedBlobs(store);
    expect(layers.filter((d) => !blobs.has(d))).toEqual([]);
    const check = await runTbuild(['check', '--root', store]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    // Files out: the layers are unpacked for the output.
    const dest = path.join(work, 'lazy-files');
    const files = await buildId(freshStore(), context, [
      '--cache-from',
      cacheRef,
      '-o',
      `type=local,dest=${dest}`,
    ]);
    expect(workSteps(files.ran)).toEqual([]);
    expect(await readFile(path.join(dest, 'b.out'), 'utf8')).toBe('b\n');
    expect(await readFile(path.join(dest, 'a.out'), 'utf8')).toBe('a\n');
    // An archive: the lazy layers' blobs are fetched into it, whole (skopeo checks them).
    const archive = path.join(work, 'lazy.oci.tar');
    const saved = await buildId(freshStore(), context, [
      '--cache-from',
      cacheRef,
      '-o',
      `type=oci,dest=${archive}`,
    ]);
    expect(workSteps(saved.ran)).toEqual([]);
    await run('skopeo', ['copy', `oci-archive:${archive}`, `dir:${path.join(work, 'lazy-oci')}`]);
  });
});

describe('--cache-to type=inline', () => {
  it('puts the cache in the pushed image, and --cache-from IMAGE hits', async () => {
    const image = `${registry.host}/app:inline`;
    const first = await buildId(freshStore(), context, [
      '--cache-to',
      'type=inline',
      '--push',
      '-t',
      image,
    ]);
    const again = await buildId(freshStore(), context, [
      '--cache-from',
      image,
      '--cache-to',
      'type=inline',
      '-t',
      image,
    ]);
    expect(workSteps(again.ran)).toEqual([]);
    expect(again.id).toBe(first.id);
    const edited = await buildId(freshStore(), changed, ['--cache-from', image]);
    expect(workSteps(edited.ran)).toEqual(['[stage-1 3/4] COPY b.txt /b.txt', ...FINAL_STEPS]);
  });
});

describe('--cache-to type=gha / --cache-from type=gha', () => {
  // GitHub's cache service cannot be reached from here: its Twirp side is SIMULATED by a
  // test server; the blobs go to azurite, the real Azure Storage emulator (see the helper).
  let service: GhaCacheService;
  beforeAll(async () => {
    service = await startGhaCacheService();
    process.env.ACTIONS_RESULTS_URL = service.url;
    process.env.ACTIONS_RUNTIME_TOKEN = service.token;
  }, 60_000);
  afterAll(async () => {
    delete process.env.ACTIONS_RESULTS_URL;
    delete process.env.ACTIONS_RUNTIME_TOKEN;
    await service?.stop();
  });

  it('gives a fresh store every step from the Actions cache, and uploads a layer once', async () => {
    await roundTrip(
      ['--cache-to', 'type=gha,scope=main,mode=max'],
      ['--cache-from', 'type=gha,scope=main'],
    );
    const creates = () => service.calls.filter((c) => c.method === 'CreateCacheEntry').length;
    const before = creates();
    await buildId(freshStore(), context, [
      '--cache-from',
      'type=gha,scope=main',
      '--cache-to',
      'type=gha,scope=main,mode=max',
    ]);
    // Every blob was there already: only the new index entry is created.
    expect(creates() - before).toBe(1);
  });

  it('stays readable when two builds export to one scope at once', async () => {
    const to = ['--cache-to', 'type=gha,scope=shared'];
    const [one, two] = await Promise.all([
      buildId(freshStore(), context, to),
      buildId(freshStore(), changed, to),
    ]);
    const from = ['--cache-from', 'type=gha,scope=shared'];
    const again = await buildId(freshStore(), context, from);
    if (again.id === one.id) expect(workSteps(again.ran)).toEqual([]);
    else {
      const other = await buildId(freshStore(), changed, from);
      expect(other.id).toBe(two.id);
      expect(workSteps(other.ran)).toEqual([]);
    }
  });

  it('warns and builds cold without the service’s URL', async () => {
    const run = await build(freshStore(), context, [
      '--cache-from',
      'type=gha,scope=main,url_v2=http://127.0.0.1:1/',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.events).toContainEqual(expect.objectContaining({ type: 'warning' }));
    expect(workSteps(run.ran)).toHaveLength(5);
  });
});
