/**
 * The memo's round trip in this process against a real store: a repeatable build's memo
 * answers the same invocation, and nothing else does. (test/e2e/up-to-date.test.ts runs
 * real builds through the binary.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedBuildOptions } from '../../builder/options.ts';
import type { BuildResult } from '../../builder/types.ts';
import { createTempRoot } from '../../cache/test-helpers.ts';
import type { Store } from '../../cache/types.ts';
import { sha256, type Digest } from '../../shared/digest.ts';
import type { CliBuildSettings } from '../build/flags.ts';
import { answerIfUpToDate } from './check.ts';
import { readMemo, writeMemo, type Memo } from './memo.ts';
import { startMemo } from './record.ts';

let temp: Awaited<ReturnType<typeof createTempRoot>>;
let store: Store;
let context: string;
let config: Digest;
const NAME = 'docker.io/library/app:1';

beforeEach(async () => {
  temp = await createTempRoot();
  store = await temp.open();
  context = mkdtempSync(path.join(os.tmpdir(), 'tbuild-utd-'));
  writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\n');
  const snapshot = (await store.snapshots.commit((await store.snapshots.create(null)).id)).id;
  const manifest = (await store.blobs.put('{"schemaVersion":2}')).digest;
  config = (await store.blobs.put('{}')).digest;
  store.images.set({ name: NAME, manifest, config, snapshot, createdAt: 1 });
  await sleep(60); // the inputs' times settle (see InputsSignature.settlesAt)
});
afterEach(async () => {
  rmSync(context, { recursive: true, force: true });
  await temp.cleanup();
});

const codeFile = import.meta.filename;
const argv = () => ['build', '-t', 'app:1', '--root', temp.root, '.'];
const settings = { progress: 'plain', quiet: false } as CliBuildSettings;

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    cwd: context,
    env: { PATH: '/usr/bin:/bin' },
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
  } as unknown as Parameters<typeof answerIfUpToDate>[2] & { out: typeof out };
}

function resolved(overrides: Partial<ResolvedBuildOptions> = {}): ResolvedBuildOptions {
  return {
    contextDir: context,
    dockerfilePath: path.join(context, 'Dockerfile'),
    tags: ['app:1'],
    outputs: [],
    load: false,
    cacheFrom: [],
    cacheTo: [],
    noCache: false,
    noCacheFilter: [],
    pull: false,
    iidfile: undefined,
    metadataFile: undefined,
    namedContexts: {},
    platforms: [{ os: 'linux', architecture: 'amd64' }],
    ...overrides,
  } as unknown as ResolvedBuildOptions;
}

function result(repeatable = true): BuildResult {
  return {
    imageId: config,
    warnings: [{ message: 'JSONArgsRecommended: use JSON', rule: 'JSONArgsRecommended' }],
    ...(repeatable ? { repeatable: { storeGeneration: store.generation() } } : {}),
  } as unknown as BuildResult;
}

/** Record a build of `argv` that gave `built`, as runBuildCli does. */
function record(built = result(), options = resolved()): void {
  const recorder = startMemo({ argv: argv(), codeFile }, { context: '.' }, settings, io());
  expect(recorder).toBeDefined();
  recorder!.finish(built, options, temp.root);
}

const ask = (given = io()) => answerIfUpToDate(argv(), codeFile, given);

describe('the up-to-date check', () => {
  it("answers with the memo's image, names and warnings, and marks them used", async () => {
    record();
    const given = io();
    expect(await ask(given)).toBe(0);
    expect(given.out.stderr).toMatch(/up to date: nothing changed since the build at/);
    expect(given.out.stderr).toContain(`writing image ${config} done`);
    expect(given.out.stderr).toContain(`naming to ${NAME} done`);
    expect(given.out.stderr).toContain('JSONArgsRecommended');
    const marked = store.images.get(NAME)!.createdAt;
    expect(marked).toBeGreaterThan(1);
    // Marking used is no change: the memo answers again, and within a minute of the last
    // mark it writes nothing.
    expect(await ask()).toBe(0);
    expect(store.images.get(NAME)!.createdAt).toBe(marked);
  });

  it('answers for an image built without a name, kept under its ID', async () => {
    const image = store.images.get(NAME)!;
    const unnamed = (await store.blobs.put('{"unnamed":1}')).digest;
    store.images.keepUnnamed({ ...image, config: unnamed });
    const built = { ...result(), imageId: unnamed } as BuildResult;
    record(built, resolved({ tags: [] }));
    const given = io();
    expect(await ask(given)).toBe(0);
    expect(given.out.stderr).toContain(`writing image ${unnamed} done`);
    expect(given.out.stderr).not.toContain('naming to');
    store.images.deleteUnnamed();
    expect(await ask()).toBeUndefined();
  });

  it('builds when the store changed, an input changed, or the build was not repeatable', async () => {
    record(result(false));
    expect(await ask()).toBeUndefined();

    record();
    writeFileSync(path.join(context, 'new.txt'), 'x');
    expect(await ask()).toBeUndefined();

    await sleep(60);
    record();
    expect(await ask()).toBe(0);
    // A cache record added (another build): the names are the same, the store is not.
    store.cache.put(sha256('another step'), [{ empty: true }]);
    expect(await ask()).toBeUndefined();

    record();
    const other = (await store.blobs.put('{"other":1}')).digest;
    store.images.set({ ...store.images.get(NAME)!, config: other });
    expect(await ask()).toBeUndefined();
  });

  it('writes the ID file again, as the build does', async () => {
    const iidfile = path.join(temp.root, 'iid');
    record(result(), resolved({ iidfile }));
    expect(await ask()).toBe(0);
    expect(readFileSync(iidfile, 'utf8')).toBe(config);
  });

  it('keeps no memo of a build with an output, or whose inputs changed while it ran', async () => {
    record(result(), resolved({ metadataFile: '/tmp/metadata.json' }));
    expect(await ask()).toBeUndefined();

    const recorder = startMemo({ argv: argv(), codeFile }, { context: '.' }, settings, io());
    writeFileSync(path.join(context, 'during.txt'), 'x');
    recorder!.finish(result(), resolved(), temp.root);
    expect(await ask()).toBeUndefined();
  });

  it("keys a rootless build's memo by the invoking process, outside the namespace", async () => {
    // The re-run adds TBUILD_ROOTLESS (and TBUILD_ROOTLESS_NETWORK); the check, before
    // the re-run, has neither. (Here the ids map to themselves: uid 0 outside too.)
    const inner = io();
    const env = { ...inner.env, TBUILD_ROOTLESS: '1', TBUILD_ROOTLESS_NETWORK: 'host' };
    const recorder = startMemo({ argv: argv(), codeFile }, { context: '.' }, settings, {
      ...inner,
      env,
    });
    recorder!.finish(result(), resolved(), temp.root);
    expect(await ask()).toBe(0);
  });

  it('leaves a context that cannot be read to the build, which says what is wrong', () => {
    const options = { context: 'nowhere' };
    expect(startMemo({ argv: argv(), codeFile }, options, settings, io())).toBeUndefined();
  });

  it('takes no memo when an input changed too recently for its times to tell', () => {
    writeFileSync(path.join(context, 'just-now.txt'), 'x');
    expect(startMemo({ argv: argv(), codeFile }, { context: '.' }, settings, io())).toBeUndefined();
  });
});

describe('the memo directory', () => {
  it('keeps the newest 16 memos, one per invocation', async () => {
    const memo = { version: 1, root: temp.root, progress: 'plain' } as unknown as Memo;
    for (let i = 0; i < 20; i++) {
      writeMemo(`key${i}`, memo);
      utimesSync(path.join(temp.root, 'up-to-date', `key${i}.json`), i, i);
    }
    writeMemo('newest', memo);
    const kept = readdirSync(path.join(temp.root, 'up-to-date')).sort();
    expect(kept).toHaveLength(16);
    expect(kept).toContain('newest.json');
    expect(kept).not.toContain('key0.json');
    expect(readMemo(temp.root, 'key19')).toEqual(memo);
  });
});
