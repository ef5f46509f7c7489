/**
 * The store survives processes killed at any moment, and several writing at once.
 * Writers are real child processes that run the store in a loop; the test SIGKILLs
 * them at random points, reopens the store and checks every invariant a build relies on.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/cache/index.ts';
import type { Store } from '../../src/cache/index.ts';

const storeModule = pathToFileURL(resolve('src/cache/index.ts')).href;
const digestModule = pathToFileURL(resolve('src/shared/digest.ts')).href;

/** A writer: blobs, snapshots, layer blobs, cache records and images, forever or `count` times. */
const writerSource = `
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { openStore } from '${storeModule}';
import { sha256 } from '${digestModule}';
const [root, name, countText, mode] = process.argv.slice(2);
const count = Number(countText || Infinity);
const store = await openStore({ root });
let parent = null;
for (let i = 0; i < count; i++) {
  const data = randomBytes(1000 + Math.floor(Math.random() * 200000));
  const blob = await store.blobs.ingest(Readable.from([data.subarray(0, 500), data.subarray(500)]), { digest: sha256(data) });
  const snap = await store.snapshots.create(parent, name + ' ' + i);
  await writeFile(snap.dir + '/file', name + ' ' + i);
  const scratch = await store.tempDir('scratch');
  await writeFile(scratch + '/x', data.subarray(0, 1000));
  await store.snapshots.commit(snap.id);
  store.snapshots.addLayerBlob(snap.id, { ...blob, mediaType: 'application/vnd.oci.image.layer.v1.tar', compression: 'uncompressed' });
  store.cache.put(sha256(name + ' ' + i), [{ snapshot: snap.id }], name + ' ' + i);
  parent = Math.random() < 0.7 ? snap.id : null;
  if (i % 3 === 0) {
    const config = await store.blobs.put(JSON.stringify({ name, i }));
    const manifest = await store.blobs.put(JSON.stringify({ schemaVersion: 2, config: { digest: config.digest }, layers: [{ digest: blob.digest }] }));
    store.images.set({ name: name + ':' + (i % 4), manifest: manifest.digest, config: config.digest, snapshot: snap.id, createdAt: Date.now() });
  }
  if (i % 5 === 4 && mode !== 'hold') await store.prune({ keepStorageBytes: 2_000_000 });
  if (i === 0) process.stdout.write('ready\\n');
}
if (mode === 'hold') {
  // Stay open (a live session) until the test closes our stdin.
  process.stdout.write('done\\n');
  for await (const _ of process.stdin);
}
store.close();
`;

/** Prunes everything it may, over and over, until killed. */
const prunerSource = `
import { openStore } from '${storeModule}';
const store = await openStore({ root: process.argv[2] });
process.stdout.write('ready\\n');
for (;;) await store.prune({ all: true });
`;

/** Mounts a tmpfs and a bind of a precious directory under the store, then waits to be killed. */
const mounterSource = `
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { openStore } from '${storeModule}';
const [root, precious] = process.argv.slice(2);
const store = await openStore({ root });
const dir = await store.mountDir('run');
mkdirSync(dir + '/tmp');
mkdirSync(dir + '/ctx');
execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', dir + '/tmp']);
execFileSync('mount', ['--bind', precious, dir + '/ctx']);
process.stdout.write(dir + '\\n');
setInterval(() => {}, 1000);
`;

let work: string;
let writer: string;
let mounter: string;
let pruner: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tbuild-crash-'));
  writer = join(work, 'writer.mjs');
  mounter = join(work, 'mounter.mjs');
  await writeFile(writer, writerSource);
  await writeFile(mounter, mounterSource);
  pruner = join(work, 'pruner.mjs');
  await writeFile(pruner, prunerSource);
});
afterAll(() => rm(work, { recursive: true, force: true }));

interface NodeChild {
  child: ChildProcess;
  firstLine: Promise<string>;
  /** Resolves once the child has printed `text` on a line of its own. */
  waitFor(text: string): Promise<void>;
  exited: Promise<number | null>;
}

function startNode(script: string, args: string[]): NodeChild {
  const child = spawn(process.execPath, ['--no-warnings', script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const waitFor = (text: string) =>
    new Promise<void>((done, fail) => {
      const check = () => stdout.split('\n').includes(text) && done();
      child.stdout!.on('data', check);
      check();
      void exited.then((code) =>
        fail(new Error(`child exited (${code}) before printing ${text}: ${stderr}`)),
      );
    });
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const firstLine = new Promise<string>((done, fail) => {
    child.stdout!.on('data', () => stdout.includes('\n') && done(stdout.split('\n')[0]!));
    void exited.then((code) =>
      fail(new Error(`child exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  return { child, firstLine, waitFor, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything a build relies on, checked on a store no process is using. */
async function expectConsistent(root: string): Promise<void> {
  const store = await openStore({ root });
  try {
    const db = new DatabaseSync(join(root, 'tbuild.db'), { readOnly: true });
    const all = (sql: string) => db.prepare(sql).all() as Record<string, unknown>[];
    const referenced = all(
      'SELECT digest FROM layer_blobs UNION SELECT digest FROM image_blobs',
    ).map((r) => String(r.digest));
    for (const image of store.images.list()) referenced.push(image.manifest, image.config);
    for (const digest of referenced) {
      const path = join(root, 'blobs/sha256', digest.slice(7));
      expect(existsSync(path), `referenced blob ${digest} exists`).toBe(true);
    }
    for (const name of await readdir(join(root, 'blobs/sha256'))) {
      const hex = createHash('sha256')
        .update(readFileSync(join(root, 'blobs/sha256', name)))
        .digest('hex');
      expect(hex, 'every blob verifies').toBe(name);
    }
    const snapshots = store.snapshots.list();
    expect(
      snapshots.filter((s) => !s.committed),
      'no uncommitted snapshot of a dead process',
    ).toEqual([]);
    const ids = new Set(snapshots.map((s) => s.id));
    for (const s of snapshots) if (s.parent !== null) expect(ids.has(s.parent)).toBe(true);
    for (const record of store.cache.list()) {
      for (const result of record.results)
        if ('snapshot' in result) expect(ids.has(result.snapshot)).toBe(true);
    }
    for (const image of store.images.list())
      if (image.snapshot !== null) expect(ids.has(image.snapshot)).toBe(true);
    expect((await readdir(join(root, 'snapshots'))).sort()).toEqual([...ids].map(String).sort());
    for (const s of snapshots) expect(existsSync(s.dir)).toBe(true);
    expect(await readdir(join(root, 'tmp')), 'temp is empty').toEqual([]);
    expect(await readdir(join(root, 'mounts'))).toEqual([]);
    db.close();
  } finally {
    store.close();
  }
}

describe('store crash safety', () => {
  it('stays consistent when writers are killed at random moments', async () => {
    const root = join(work, 'killed');
    let cleaned = 0;
    for (let round = 0; round < 6; round++) {
      const { child, firstLine, exited } = startNode(writer, [root, `w${round}`]);
      await firstLine;
      await sleep(Math.random() * 250);
      child.kill('SIGKILL');
      await exited;
      const store = await openStore({ root });
      cleaned += store.recovery.removedTemp.length + store.recovery.removedSnapshots.length;
      store.close();
      await expectConsistent(root);
    }
    expect(cleaned, 'the killed writers left work behind that recovery removed').toBeGreaterThan(0);
    const store = await openStore({ root });
    // Prune may drop cache records to its budget; tagged images always stay.
    expect(store.images.list().length).toBeGreaterThan(0);
    store.close();
  });

  it('keeps every record of two processes writing while a third prunes', async () => {
    const root = join(work, 'concurrent');
    const writers = ['a', 'b'].map((name) => startNode(writer, [root, name, '12', 'hold']));
    await Promise.all(writers.map((w) => w.firstLine));
    const prune = startNode(pruner, [root]);
    await Promise.all(writers.map((w) => w.waitFor('done')));
    await prune.firstLine;
    prune.child.kill('SIGKILL'); // mid-prune, most likely
    await prune.exited;
    for (const w of writers) w.child.stdin!.end();
    expect(await Promise.all(writers.map((w) => w.exited))).toEqual([0, 0]);
    await expectConsistent(root);
    const store = await openStore({ root });
    try {
      // What live builds wrote is never pruned from under them.
      for (const name of ['a', 'b']) {
        for (let i = 0; i < 12; i++) {
          const record = store.cache.list().find((r) => r.description === `${name} ${i}`);
          expect(record, `${name}'s record ${i}`).toBeDefined();
          const result = record!.results[0] as { snapshot: number };
          const file = join(store.snapshots.get(result.snapshot)!.dir, 'file');
          expect(await readFile(file, 'utf8')).toBe(`${name} ${i}`);
        }
      }
    } finally {
      store.close();
    }
  });

  it('unmounts what a killed build left mounted without touching the mounted files', async () => {
    const root = join(work, 'mounts');
    const precious = join(work, 'precious');
    await mkdir(precious, { recursive: true });
    await writeFile(join(precious, 'keep.txt'), 'user data');
    const { child, firstLine, exited } = startNode(mounter, [root, precious]);
    const dir = await firstLine;
    child.kill('SIGKILL');
    await exited;
    const store: Store = await openStore({ root });
    store.close();
    expect(store.recovery.unmounted.sort()).toEqual([join(dir, 'ctx'), join(dir, 'tmp')].sort());
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
    expect(await readFile(join(precious, 'keep.txt'), 'utf8')).toBe('user data');
    expect(await readdir(join(root, 'mounts'))).toEqual([]);
  });
});
