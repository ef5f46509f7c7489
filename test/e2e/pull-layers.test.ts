/**
 * A FROM pull of a multi-layer image from a real registry (issue 12): the layers download
 * side by side and unpack while they download (engine/pull-layers.ts). The snapshots must
 * be what unpacking each layer on its own gives, with the config's diff ids in chain
 * order; a corrupt blob, a reset connection or an abort must leave no temp directory, no
 * uncommitted snapshot and no unchecked blob; a second pull reuses everything.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { create } from 'tar';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/cache/index.ts';
import type { Store } from '../../src/cache/types.ts';
import { createImageProvider } from '../../src/engine/images.ts';
import { unpackLayer } from '../../src/exporter/layer-unpack.ts';
import { createRegistryClient, type RegistryClient } from '../../src/registry/index.ts';
import type { Digest } from '../../src/shared/digest.ts';
import { startFaultProxy, startRegistry, type TestRegistry } from '../helpers/registry.ts';
import type { ProxyFault } from '../helpers/registry.ts';

const sha256 = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const PLATFORM = { os: 'linux', architecture: 'amd64' };

interface Layer {
  blob: Buffer;
  tar: Buffer;
  mediaType: string;
}

/** A layer tar of `files` (name → content, or `-> target` for a symlink). */
async function layerTar(files: Record<string, string | Buffer>): Promise<Buffer> {
  const root = await mkdtemp(join(tmpdir(), 'tbuild-pull-layer-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, name)), { recursive: true });
      if (typeof content === 'string' && content.startsWith('-> '))
        await symlink(content.slice(3), join(root, name));
      else await writeFile(join(root, name), content, { mode: 0o640 });
    }
    const chunks: Buffer[] = [];
    const names = Object.keys(files).sort();
    for await (const chunk of create({ cwd: root, portable: true, mtime: new Date(0) }, names))
      chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const gz = (tar: Buffer): Layer => ({
  blob: gzipSync(tar),
  tar,
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
});
const plain = (tar: Buffer): Layer => ({
  blob: tar,
  tar,
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
});

/**
 * Five layers: small and large (a worker unpacks a pulled blob of 16 MB or more), gzip
 * and plain, a whiteout, and the first layer's blob again at the fourth place.
 */
async function makeLayers(): Promise<Layer[]> {
  const first = gz(
    await layerTar({ 'etc/a.txt': 'a\n', 'etc/b.txt': 'b\n', 'bin/tool': '-> ../etc/a.txt' }),
  );
  return [
    first,
    gz(await layerTar({ 'data/one.bin': randomBytes(17 * 1024 * 1024) })),
    plain(await layerTar({ 'etc/.wh.a.txt': '', 'etc/c.txt': 'c\n'.repeat(1000) })),
    first,
    gz(await layerTar({ 'data/two.bin': randomBytes(4608 * 1024), 'etc/d.txt': 'd\n' })),
  ];
}

interface Pushed {
  ref: string;
  configDigest: Digest;
  diffIds: Digest[];
  layers: Layer[];
}

async function pushImage(client: RegistryClient, ref: string, layers: Layer[]): Promise<Pushed> {
  const diffIds = layers.map((l) => sha256(l.tar));
  const config = Buffer.from(
    JSON.stringify({
      ...PLATFORM,
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const blobs = new Map<Digest, Buffer>([[sha256(config), config]]);
  for (const layer of layers) blobs.set(sha256(layer.blob), layer.blob);
  for (const [digest, bytes] of blobs)
    await client.uploadBlob(ref, digest, bytes.length, () => Readable.from([bytes]));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: layers.map((l) => ({
      mediaType: l.mediaType,
      digest: sha256(l.blob),
      size: l.blob.length,
    })),
  };
  await client.putManifest(ref, JSON.stringify(manifest), manifest.mediaType);
  return { ref, configDigest: sha256(config), diffIds, layers };
}

/** Every entry under `dir`: type, mode, owner, time, size, content or link target. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(dir, rel, name);
      const st = lstatSync(path);
      const what = st.isSymbolicLink()
        ? `link ${readlinkSync(path)}`
        : st.isFile()
          ? `file ${st.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`
          : st.isCharacterDevice()
            ? `char ${st.rdev}`
            : 'dir';
      // A directory's time and a whiteout's (made at unpack time) are not the layer's.
      const mtime =
        st.isDirectory() || st.isCharacterDevice() ? '' : ` ${Math.floor(st.mtimeMs / 1000)}`;
      out.push(
        `${rel}${name} ${what} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${mtime}`,
      );
      if (st.isDirectory()) walk(`${rel}${name}/`);
    }
  };
  walk('');
  return out;
}

let registry: TestRegistry;
let client: RegistryClient;
let work: string;
let image: Pushed;

beforeAll(async () => {
  registry = await startRegistry();
  client = createRegistryClient({ retries: 0 });
  work = await mkdtemp(join(tmpdir(), 'tbuild-e2e-pull-layers-'));
  image = await pushImage(client, `${registry.host}/pull/multi:1`, await makeLayers());
}, 60_000);

afterAll(async () => {
  await client?.close();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('pulling a multi-layer base image', () => {
  let root: string;
  let store: Store;
  beforeEach(async () => {
    root = await mkdtemp(join(work, 'store-'));
    store = await openStore({ root });
  });
  afterEach(() => store.close());

  /** Resolve and materialize `ref` as FROM does; the layers that reported downloads. */
  async function pull(ref: string, signal = new AbortController().signal, via = client) {
    const provider = createImageProvider({
      store,
      registry: async () => via,
      replaceNames: true,
    });
    const resolved = await provider.resolve(ref, PLATFORM, true);
    const downloaded = new Set<string>();
    const top = await provider.materialize(resolved, signal, (id) => downloaded.add(id));
    return { top, downloaded };
  }

  /** Nothing half-done in the store: no temp entries, uncommitted or orphan snapshots. */
  function expectNothingLeft(): void {
    const tmp = join(root, 'tmp');
    for (const lease of existsSync(tmp) ? readdirSync(tmp) : [])
      expect(readdirSync(join(tmp, lease)), `temp entries of lease ${lease}`).toEqual([]);
    const rows = store.snapshots.list();
    expect(rows.filter((s) => !s.committed)).toEqual([]);
    for (const s of rows) expect(existsSync(s.dir), `snapshot ${s.id} dir`).toBe(true);
    const dirs = readdirSync(store.snapshots.dir).filter((n) => /^\d+$/.test(n));
    expect(dirs.map(Number).sort((a, b) => a - b)).toEqual(rows.map((s) => s.id));
    // The blob store keeps only complete blobs that hash to their names.
    for (const name of readdirSync(join(root, 'blobs', 'sha256')))
      expect(sha256(readFileSync(join(root, 'blobs', 'sha256', name)))).toBe(`sha256:${name}`);
  }

  it('makes the snapshots each layer unpacks to, in chain order, with the config diff ids', async () => {
    const { top, downloaded } = await pull(image.ref);
    const chain = store.snapshots.chain(top!).reverse();
    expect(chain.map((s) => s.diffId)).toEqual(image.diffIds);
    expect(chain.every((s) => s.committed)).toBe(true);
    // The image ID is the registry's config digest.
    expect(store.images.get(image.ref)?.config).toBe(image.configDigest);
    // The first layer's blob is fetched once though it is listed twice.
    expect(downloaded.size).toBe(new Set(image.layers.map((l) => sha256(l.blob))).size);
    for (const [i, s] of chain.entries()) {
      const layer = image.layers[i]!;
      expect(store.snapshots.layerBlobs(s.id)).toEqual([
        {
          digest: sha256(layer.blob),
          size: layer.blob.length,
          mediaType: layer.mediaType,
          compression: layer.mediaType.endsWith('gzip') ? 'gzip' : 'uncompressed',
        },
      ]);
      const reference = join(work, `reference-${i}`);
      await rm(reference, { recursive: true, force: true });
      const unpacked = await unpackLayer(Readable.from([layer.blob]), reference);
      expect(unpacked.diffId).toBe(image.diffIds[i]);
      expect(listTree(s.dir)).toEqual(listTree(reference));
      expect(lstatSync(s.dir).mode & 0o7777).toBe(0o755);
    }
    expectNothingLeft();
  });

  it('reuses everything on a second pull, and fetches only a blob that went missing', async () => {
    const first = await pull(image.ref);
    const count = store.snapshots.list().length;
    const again = await pull(image.ref);
    expect(again.top).toBe(first.top);
    expect(again.downloaded.size).toBe(0);
    expect(store.snapshots.list()).toHaveLength(count);

    // `tbuild check --repair` removed a corrupt blob: the next pull fetches it again.
    const lost = sha256(image.layers[1]!.blob);
    await rm(store.blobs.path(lost));
    const repaired = await pull(image.ref);
    expect(repaired.top).toBe(first.top);
    expect([...repaired.downloaded]).toEqual([lost]);
    expect(await store.blobs.has(lost)).toBe(true);
    expect(store.snapshots.list()).toHaveLength(count);
    expectNothingLeft();
  });

  it('unpacks blobs already stored without fetching them', async () => {
    const stored = sha256(image.layers[4]!.blob);
    await store.blobs.ingest(await client.fetchBlob(image.ref, stored), { digest: stored });
    const { top, downloaded } = await pull(image.ref);
    expect(downloaded.has(stored)).toBe(false);
    expect(store.snapshots.chain(top!).map((s) => s.diffId)).toEqual([...image.diffIds].reverse());
    expectNothingLeft();
  });

  it('downloads each blob once when two pulls of it run in one process', async () => {
    const [a, b] = await Promise.all([pull(image.ref), pull(image.ref)]);
    for (const { top } of [a, b])
      expect(store.snapshots.chain(top!).map((s) => s.diffId)).toEqual(
        [...image.diffIds].reverse(),
      );
    expect([...a.downloaded].filter((d) => b.downloaded.has(d))).toEqual([]);
    expect(new Set([...a.downloaded, ...b.downloaded]).size).toBe(
      new Set(image.layers.map((l) => sha256(l.blob))).size,
    );
    expectNothingLeft();
  });

  async function pullThroughFault(fault: (path: string) => ProxyFault) {
    const proxy = await startFaultProxy(`127.0.0.1:${registry.port}`, (r) =>
      r.method === 'GET' ? fault(r.path) : undefined,
    );
    const via = createRegistryClient({ retries: 0 });
    try {
      const ref = image.ref.replace(registry.host, proxy.host);
      return await pull(ref, undefined, via).then(
        () => undefined,
        (error: unknown) => error,
      );
    } finally {
      await via.close();
      await proxy.stop();
    }
  }

  it('fails on a corrupt blob with the digest mismatch, and leaves nothing of it', async () => {
    const bad = sha256(image.layers[1]!.blob);
    const error = await pullThroughFault((path) =>
      path.includes(`/blobs/${bad}`) ? 'corrupt' : undefined,
    );
    expect(error).toMatchObject({ code: 'TBUILD_DIGEST_MISMATCH' });
    expect(String((error as Error).message)).toContain(bad);
    expect(await store.blobs.has(bad)).toBe(false);
    expect(store.snapshots.list().some((s) => s.diffId === image.diffIds[1])).toBe(false);
    expectNothingLeft();
    // The next pull completes what is missing.
    const { top } = await pull(image.ref);
    expect(store.snapshots.chain(top!).map((s) => s.diffId)).toEqual([...image.diffIds].reverse());
  });

  it('fails on a reset connection with the registry error, and leaves nothing', async () => {
    const reset = sha256(image.layers[4]!.blob);
    const error = await pullThroughFault((path) =>
      path.includes(`/blobs/${reset}`) ? 'reset' : undefined,
    );
    expect(error).toMatchObject({ code: expect.stringMatching(/^TBUILD_REGISTRY/) });
    expect(await store.blobs.has(reset)).toBe(false);
    expectNothingLeft();
  });

  it('stops every download when aborted, and leaves nothing', async () => {
    const controller = new AbortController();
    const provider = createImageProvider({ store, registry: async () => client });
    const resolved = await provider.resolve(image.ref, PLATFORM, true);
    const big = sha256(image.layers[1]!.blob);
    const error = await provider
      .materialize(resolved, controller.signal, (id, current) => {
        if (id === big && current > 1024 * 1024) controller.abort();
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(await store.blobs.has(big)).toBe(false);
    expect(store.snapshots.list().some((s) => s.diffId === image.diffIds[1])).toBe(false);
    expectNothingLeft();
  });
});
