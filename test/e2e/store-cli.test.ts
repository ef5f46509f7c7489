/**
 * The store's commands as a user runs them: images, tag, rm/rmi, prune and du against a
 * store filled through the library.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/cache/index.ts';
import type { Store } from '../../src/cache/index.ts';
import { formatError, parserFailure } from '../../src/cli/errors.ts';
import { sha256 } from '../../src/shared/digest.ts';

const modules = ['images', 'rm', 'tag', 'prune', 'du'];

/** Run `tbuild <args>` in-process with the store commands; capture what it prints. */
async function tbuild(
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  const cli = yargs(args)
    .strict()
    .fail((message, error) => {
      throw error ?? parserFailure(message);
    });
  for (const name of modules) {
    const mod = (await import(`../../src/cli/commands/${name}.ts`)) as { command: CommandModule };
    cli.command(mod.command);
  }
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (
    (stdout += chunk),
    true
  )) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (
    (stderr += chunk),
    true
  )) as typeof process.stderr.write;
  let code = 0;
  try {
    await cli.parseAsync();
  } catch (error) {
    const formatted = formatError(error);
    stderr += formatted.text + '\n';
    code = formatted.code;
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return { stdout, stderr, code };
}

let root: string;
let store: Store;
let imageId: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tbuild-cli-'));
  store = await openStore({ root });
  const base = await store.snapshots.create(null);
  await writeFile(join(base.dir, 'big'), Buffer.alloc(1_500_000));
  await store.snapshots.commit(base.id);
  const cached = await store.snapshots.create(base.id, 'RUN make');
  await writeFile(join(cached.dir, 'out'), Buffer.alloc(2000));
  await store.snapshots.commit(cached.id);
  store.cache.put(sha256('make'), [{ snapshot: cached.id }], 'RUN make');
  const config = await store.blobs.put(
    JSON.stringify({ created: new Date(Date.now() - 3 * 3600_000).toISOString() }),
  );
  const manifest = await store.blobs.put(
    JSON.stringify({ schemaVersion: 2, config: { digest: config.digest }, layers: [] }),
  );
  store.images.set({
    name: 'docker.io/library/app:1.0',
    manifest: manifest.digest,
    config: config.digest,
    snapshot: base.id,
    createdAt: Date.now(),
  });
  imageId = config.digest.slice(7, 19);
  store.close();
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('tbuild images', () => {
  it('lists images in a docker-like table', async () => {
    const { stdout, code } = await tbuild('images', '--root', root);
    expect(code).toBe(0);
    const [header, row] = stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    expect(row!.split(/\s{2,}/)).toEqual(['app', '1.0', imageId, '3 hours ago', '1.5MB']);
  });

  it('prints only IDs with -q and JSON lines with --format json', async () => {
    expect((await tbuild('images', '-q', '--root', root)).stdout).toBe(`${imageId}\n`);
    const json = JSON.parse(
      (await tbuild('images', '--format', 'json', '--root', root)).stdout,
    ) as Record<string, string>;
    expect(json).toMatchObject({ Repository: 'app', Tag: '1.0', ID: imageId, Size: '1.5MB' });
  });

  it('uses TBUILD_ROOT when --root is not given', async () => {
    process.env.TBUILD_ROOT = root;
    try {
      expect((await tbuild('images', '-q')).stdout).toBe(`${imageId}\n`);
    } finally {
      delete process.env.TBUILD_ROOT;
    }
  });
});

describe('tbuild tag and rm', () => {
  it('adds names by name or ID and removes them without deleting content', async () => {
    expect((await tbuild('tag', 'app:1.0', 'app:latest', '--root', root)).code).toBe(0);
    expect((await tbuild('tag', imageId, 'localhost:5000/team/app:2', '--root', root)).code).toBe(
      0,
    );
    const listed = (await tbuild('images', '--format', 'json', '--root', root)).stdout;
    expect(
      listed
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { Repository: string; Tag: string }).Tag)
        .sort(),
    ).toEqual(['1.0', '2', 'latest']);

    const removed = await tbuild('rm', 'app:1.0', 'app', '--root', root);
    expect(removed).toMatchObject({ code: 0, stdout: 'Untagged: app:1.0\nUntagged: app:latest\n' });
    const byAlias = await tbuild('rmi', 'localhost:5000/team/app:2', '--root', root);
    expect(byAlias.stdout).toBe('Untagged: localhost:5000/team/app:2\n');
    expect((await tbuild('images', '-q', '--root', root)).stdout).toBe('');
    const again = await openStore({ root });
    expect(again.snapshots.list()).toHaveLength(2);
    again.close();
  });

  it('fails with a one-line error and a hint for an unknown image', async () => {
    const { code, stderr } = await tbuild('rm', 'nope:1', '--root', root);
    expect(code).toBe(1);
    expect(stderr).toContain('ERROR: no such image: nope:1');
    expect(stderr).toContain('hint: Run `tbuild images`');
  });
});

describe('tbuild prune and du', () => {
  it('shows per-layer usage and totals', async () => {
    const { stdout } = await tbuild('du', '--root', root);
    expect(stdout).toMatch(/^ID\s+RECLAIMABLE\s+SIZE\s+LAST ACCESSED\s+DESCRIPTION\n/);
    expect(stdout).toMatch(/\n2\s+true\s+2kB\s+.*RUN make\n/);
    expect(stdout).toMatch(/Reclaimable:\t2kB\n/);
    expect((await tbuild('du', '--verbose', '--root', root)).stdout).toContain(
      'Description:\tRUN make',
    );
  });

  it('removes build cache with -a but keeps what tagged images use', async () => {
    const kept = await tbuild('prune', '-f', '--root', root);
    expect(kept.stdout).toContain('Total reclaimed space: 0B');
    const { stdout, code } = await tbuild('prune', '-a', '-f', '--root', root);
    expect(code).toBe(0);
    expect(stdout).toContain('Total reclaimed space: 2kB');
    expect((await tbuild('images', '-q', '--root', root)).stdout).toBe(`${imageId}\n`);
  });

  it('rejects an unknown filter with a suggestion', async () => {
    const { code, stderr } = await tbuild('prune', '-f', '--filter', 'untill=24h', '--root', root);
    expect(code).toBe(125);
    expect(stderr).toContain('Did you mean --filter until=24h?');
  });

  it('parses --keep-storage sizes', async () => {
    const { stdout } = await tbuild('prune', '-f', '--keep-storage', '1MB', '--root', root);
    expect(stdout).toContain('Total reclaimed space: 2kB');
  });
});
