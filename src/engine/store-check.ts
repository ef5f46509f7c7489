/**
 * Store integrity (issue 14, item 10), as `git fsck` for tbuild's store: blobs re-hash
 * to their names, committed snapshots have their directories, images and cache records
 * point at what exists. `tbuild check --repair` drops what cannot be trusted and rebuilds
 * what can be: a snapshot whose directory is gone is unpacked again from its layer blob.
 * Builds use the same restore when they meet a missing snapshot, so one deleted
 * directory no longer breaks every build on that base.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { SnapshotId, SnapshotInfo, Store } from '../cache/types.ts';
import type { Digest } from '../shared/digest.ts';
import { TbuildError } from '../shared/errors.ts';
import type { Index, Manifest } from '../shared/oci.ts';
import {
  fetchLazyBlob,
  fetchLazyBlobWith,
  hasStoredBlob,
  isLazyLayer,
  lazySourceOf,
} from './lazy-layers.ts';
import { discardStaged, placeStaged, unpackStaged, type StagedLayer } from './staged-unpack.ts';

/** A committed snapshot whose directory is missing and cannot be rebuilt from a blob. */
export class SnapshotMissingError extends TbuildError {
  readonly id: SnapshotId;
  constructor(info: SnapshotInfo, why: string) {
    super(
      'TBUILD_SNAPSHOT_MISSING',
      `snapshot ${info.id}${info.description ? ` (${info.description})` : ''} is missing from the store: its directory ${info.dir} is gone and ${why}`,
      {
        hint: 'Run `tbuild check --repair` to drop what depends on it, then build or pull again.',
      },
    );
    this.id = info.id;
  }
}

/** The sha256 of a file's bytes. */
async function hashFile(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Unpack a committed snapshot's layer again from one of its layer blobs, when its
 * directory is gone. The layer is unpacked in a private temp directory, checked against
 * the snapshot's diff id and renamed into place, so a concurrent restore or a crash
 * never leaves a half-filled snapshot. A lazy layer of an imported cache is unpacked
 * while its blob downloads, and placed only once the blob's digest is checked. Returns
 * why it could not, or undefined on success.
 */
export async function restoreSnapshot(
  store: Store,
  info: SnapshotInfo,
): Promise<string | undefined> {
  if (existsSync(info.dir)) return undefined;
  if (!info.diffId) return 'it has no recorded diff id to check a blob against';
  let last = 'no stored layer blob of it is intact';
  let tried: Digest | undefined;
  if (!hasStoredBlob(store, info.id)) {
    const source = lazySourceOf(store, info.id);
    if (source) {
      let staged: Staged | undefined;
      try {
        const streamed = await fetchLazyBlobWith(store, info.id, async (bytes) => {
          staged = await stage(store, bytes, source.descriptor.size);
        });
        if (!streamed) await fetchLazyBlob(store, info.id);
      } catch (error) {
        if (staged && !('why' in staged)) await discardStaged(staged);
        if (!(error instanceof TbuildError)) throw error;
        return `its layer blob ${source.descriptor.digest} could not be fetched from ${source.what}: ${error.message}`;
      }
      if (staged) {
        const why = await place(info, staged, source.descriptor.digest);
        if (why === undefined) return undefined;
        last = why;
        tried = source.descriptor.digest;
      }
    }
  }
  const blobs = store.snapshots.layerBlobs(info.id);
  if (blobs.length === 0) return 'no layer blob of it is stored';
  for (const blob of blobs) {
    if (blob.digest === tried || !(await store.blobs.has(blob.digest))) continue;
    const why = await place(
      info,
      await stage(store, store.blobs.stream(blob.digest), blob.size),
      blob.digest,
    );
    if (why === undefined) return undefined;
    last = why;
  }
  return last;
}

/** A layer unpacked in a private temp directory, not yet checked; or why it failed. */
type Staged = StagedLayer | { why: string };

async function stage(store: Store, bytes: Readable, size: number): Promise<Staged> {
  try {
    return await unpackStaged(store, bytes, size, { prefix: 'restore' });
  } catch (error) {
    if (error instanceof TbuildError) return { why: error.message };
    throw error;
  }
}

/** Rename a staged layer into place if it is the snapshot's; the temp directory goes. */
async function place(
  info: SnapshotInfo,
  staged: Staged,
  blob: Digest,
): Promise<string | undefined> {
  if ('why' in staged) return staged.why;
  if (staged.result.diffId !== info.diffId) {
    await discardStaged(staged);
    return `layer blob ${blob} unpacks to ${staged.result.diffId}, not ${info.diffId}`;
  }
  try {
    await mkdir(dirname(info.dir), { recursive: true, mode: 0o700 });
    await placeStaged(staged, info.dir);
  } catch (error) {
    await discardStaged(staged);
    // Another process restored it first: theirs is as good as ours.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
  }
  return undefined;
}

/**
 * A snapshot's chain (nearest first, as SnapshotStore.chain) with every directory present:
 * missing ones are restored from their layer blobs, or SnapshotMissingError names them.
 */
export async function snapshotChain(store: Store, id: SnapshotId): Promise<SnapshotInfo[]> {
  const chain = store.snapshots.chain(id);
  const missing = chain.filter((info) => !existsSync(info.dir));
  if (missing.length === 0) return chain;
  // Each layer is its own directory (overlay's lowerdirs): they are fetched and unpacked
  // side by side, a few at a time, and each once however many mounts wait for it.
  const limit = pLimit(RESTORE_CONCURRENCY);
  const failures = await Promise.all(
    missing.map((info) => limit(() => restoreOnce(store, info).then((why) => ({ info, why })))),
  );
  const failed = failures.find((f) => f.why !== undefined);
  if (failed) throw new SnapshotMissingError(failed.info, failed.why!);
  return chain;
}

/** Layers restored at once: unpacking is I/O and hashing, which overlap well. */
const RESTORE_CONCURRENCY = Math.max(4, availableParallelism() + 1);

const restoring = new WeakMap<Store, Map<SnapshotId, Promise<string | undefined>>>();

/** restoreSnapshot, once at a time per snapshot in this process. */
function restoreOnce(store: Store, info: SnapshotInfo): Promise<string | undefined> {
  let pending = restoring.get(store);
  if (!pending) restoring.set(store, (pending = new Map()));
  let restore = pending.get(info.id);
  if (!restore) {
    restore = restoreSnapshot(store, info);
    const forget = () => pending.delete(info.id);
    restore.then(forget, forget);
    pending.set(info.id, restore);
  }
  return restore;
}

export type FindingKind =
  'corrupt-blob' | 'missing-blob' | 'missing-snapshot' | 'dangling-snapshot' | 'dangling-cache';

/** One problem found, and what --repair did about it. */
export interface CheckFinding {
  kind: FindingKind;
  message: string;
  /** What the repair did; undefined when not repairing or nothing could be done. */
  repaired?: string;
}

export interface CheckReport {
  blobs: number;
  snapshots: number;
  images: number;
  cacheRecords: number;
  findings: CheckFinding[];
}

export interface CheckOptions {
  repair?: boolean;
  /** Hears each finding as it is made (the CLI prints them as they come). */
  onFinding?: (finding: CheckFinding) => void;
}

/** Verify the store; with `repair`, drop or rebuild what is damaged. */
export async function checkStore(store: Store, options: CheckOptions = {}): Promise<CheckReport> {
  const repair = options.repair === true;
  const findings: CheckFinding[] = [];
  const report = (finding: CheckFinding) => {
    findings.push(finding);
    options.onFinding?.(finding);
  };
  // Prune holds the same lock: it cannot delete what is being checked, nor the reverse.
  const release = await store.lock('gc');
  try {
    // 1. Blobs re-hash to their names. A corrupt one is removed under --repair; whatever
    //    names it is handled below as naming a missing blob.
    const bad = new Set<Digest>();
    let blobCount = 0;
    for await (const { digest } of store.blobs.list()) {
      blobCount++;
      const actual = await hashFile(store.blobs.path(digest));
      if (actual === digest) continue;
      bad.add(digest);
      let repaired: string | undefined;
      if (repair) {
        await unlink(store.blobs.path(digest));
        repaired = 'removed';
      }
      report({
        kind: 'corrupt-blob',
        message: `blob ${digest} is corrupt: its bytes hash to ${actual}`,
        ...(repaired ? { repaired } : {}),
      });
    }
    const usable = async (digest: Digest) => !bad.has(digest) && (await store.blobs.has(digest));

    // 2. Committed snapshots have their directories; a missing one comes back from its
    //    layer blob, or goes with everything built on it.
    const snapshots = store.snapshots.list().filter((s) => s.committed);
    const doomed = new Set<SnapshotId>();
    for (const info of snapshots) {
      if (existsSync(info.dir)) continue;
      // A lazy layer of an imported cache (ADR 11) kept as its blob is unpacked when
      // first mounted: nothing is wrong with it.
      const blobs = store.snapshots.layerBlobs(info.id);
      if (isLazyLayer(info) && (await someAsync(blobs, (b) => usable(b.digest)))) continue;
      const what = `snapshot ${info.id}${info.description ? ` (${info.description})` : ''}`;
      if (!repair) {
        report({ kind: 'missing-snapshot', message: `${what}: directory ${info.dir} is missing` });
        continue;
      }
      const failure = await restoreSnapshot(store, info);
      if (failure === undefined) {
        report({
          kind: 'missing-snapshot',
          message: `${what}: directory ${info.dir} was missing`,
          repaired: 'unpacked again from its layer blob',
        });
      } else {
        doomed.add(info.id);
        report({
          kind: 'missing-snapshot',
          message: `${what}: directory ${info.dir} is missing and ${failure}`,
          repaired: 'dropped, with the snapshots, cache records and images built on it',
        });
      }
    }
    // Everything built on a dropped snapshot goes too.
    for (let grew = true; grew;) {
      grew = false;
      for (const info of snapshots) {
        if (info.parent !== null && doomed.has(info.parent) && !doomed.has(info.id)) {
          doomed.add(info.id);
          grew = true;
        }
      }
    }
    const exists = (id: SnapshotId) => !doomed.has(id) && store.snapshots.get(id) !== undefined;

    // 3. Images name blobs and a snapshot that exist.
    const images = store.images.list();
    for (const image of images) {
      const problem = await imageProblem(store, image, usable, exists, bad);
      if (!problem) continue;
      let repaired: string | undefined;
      if (repair) {
        store.images.delete(image.name);
        repaired = 'image reference removed; pull or build it again';
      }
      report({
        kind: problem.kind,
        message: `image ${image.name}: ${problem.message}`,
        ...(repaired ? { repaired } : {}),
      });
    }

    // 4. Cache records point at snapshots that exist.
    const records = store.cache.list();
    for (const record of records) {
      const missing = record.results.find((r) => 'snapshot' in r && !exists(r.snapshot));
      if (!missing || !('snapshot' in missing)) continue;
      let repaired: string | undefined;
      if (repair) {
        store.cache.delete(record.key);
        repaired = 'cache record removed; the step runs again next time';
      }
      report({
        kind: 'dangling-cache',
        message: `cache record ${record.key}${record.description ? ` (${record.description})` : ''} names snapshot ${missing.snapshot}, which is gone`,
        ...(repaired ? { repaired } : {}),
      });
    }

    // 5. Drop the doomed snapshots, children first (nothing references them any more).
    if (repair) {
      for (const id of [...doomed].sort((a, b) => b - a)) await store.snapshots.remove(id);
    }
    return {
      blobs: blobCount,
      snapshots: snapshots.length,
      images: images.length,
      cacheRecords: records.length,
      findings,
    };
  } finally {
    await release();
  }
}

/** What is wrong with an image record, if anything. */
async function imageProblem(
  store: Store,
  image: { manifest: Digest; config: Digest; snapshot: SnapshotId | null },
  usable: (digest: Digest) => Promise<boolean>,
  exists: (id: SnapshotId) => boolean,
  corrupt: ReadonlySet<Digest>,
): Promise<{ kind: FindingKind; message: string } | undefined> {
  if (!(await usable(image.manifest)))
    return {
      kind: 'missing-blob',
      message: `manifest blob ${image.manifest} is missing or corrupt`,
    };
  if (!(await usable(image.config)))
    return { kind: 'missing-blob', message: `config blob ${image.config} is missing or corrupt` };
  if (image.snapshot !== null && !exists(image.snapshot))
    return { kind: 'dangling-snapshot', message: `its snapshot ${image.snapshot} is gone` };
  let top: Partial<Manifest & Index>;
  try {
    top = await store.blobs.readJson<Partial<Manifest & Index>>(image.manifest);
  } catch {
    return { kind: 'missing-blob', message: `manifest blob ${image.manifest} is not valid JSON` };
  }
  // An index's other platforms may be absent by design (a pull keeps one): only a plain
  // manifest's layers must all be there. The store's own manifests list built layers
  // uncompressed, by diff ID, with no blob written until an output needs one (ADR 12):
  // the image's snapshot chain holds those.
  const local = new Set(
    image.snapshot === null ? [] : store.snapshots.chain(image.snapshot).map((s) => s.diffId),
  );
  for (const layer of Array.isArray(top.layers) ? top.layers : []) {
    const unwritten =
      layer.mediaType !== undefined &&
      isUncompressedLayer(layer.mediaType) &&
      local.has(layer.digest) &&
      !corrupt.has(layer.digest) &&
      !(await store.blobs.has(layer.digest));
    if (unwritten) continue;
    if (!(await usable(layer.digest)))
      return { kind: 'missing-blob', message: `layer blob ${layer.digest} is missing or corrupt` };
  }
  return undefined;
}

function isUncompressedLayer(mediaType: string): boolean {
  return !mediaType.endsWith('gzip') && !mediaType.endsWith('zstd');
}

async function someAsync<T>(items: readonly T[], test: (item: T) => Promise<boolean>) {
  for (const item of items) if (await test(item)) return true;
  return false;
}
