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
    // As the CLI parses: --no-trunc is a flag of its own, not the negation of --trunc.
    .parserConfiguration({ 'boolean-negation': false })
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

/** Add an image made `hoursAgo` to the store (unnamed without a name); returns its IDs. */
async function addImage(
  name: string | undefined,
  hoursAgo: number,
  labels: Record<string, string> | null = null,
): Promise<{ id: string; full: string; manifest: string }> {
  const s = await openStore({ root });
  try {
    const created = new Date(Date.now() - hoursAgo * 3600_000).toISOString();
    const config = await s.blobs.put(JSON.stringify({ created, config: { Labels: labels } }));
    const manifest = await s.blobs.put(
      JSON.stringify({ schemaVersion: 2, config: { digest: config.digest }, layers: [] }),
    );
    const record = {
      manifest: manifest.digest,
      config: config.digest,
      snapshot: null,
      createdAt: Date.now(),
    };
    if (name === undefined) s.images.keepUnnamed(record);
    else s.images.set({ ...record, name });
    return { id: config.digest.slice(7, 19), full: config.digest, manifest: manifest.digest };
  } finally {
    s.close();
  }
}

describe('tbuild images, as docker images', () => {
  const names = async (...args: string[]) =>
    (await tbuild('images', '--root', root, '--format', '{{.Repository}}:{{.Tag}}', ...args))
      .stdout;

  it('filters by dangling, reference, before, since and label', async () => {
    await addImage('docker.io/library/web:2', 1, { tier: 'web' });
    const unnamed = await addImage(undefined, 2);
    await addImage('localhost:5000/team/app:3', 5, { tier: 'api' });
    expect(await names()).toBe('web:2\n<none>:<none>\napp:1.0\nlocalhost:5000/team/app:3\n');
    expect((await tbuild('images', '--root', root, '-q', '-f', 'dangling=true')).stdout).toBe(
      `${unnamed.id}\n`,
    );
    expect(await names('--filter', 'dangling=false')).toBe(
      'web:2\napp:1.0\nlocalhost:5000/team/app:3\n',
    );
    expect(await names('--filter', 'reference=app')).toBe('app:1.0\n');
    expect(await names('app:1.0')).toBe('app:1.0\n');
    expect(await names('localhost:5000/team/*')).toBe('localhost:5000/team/app:3\n');
    expect(await names('--filter', 'reference=*:2', '--filter', 'reference=app')).toBe(
      'web:2\napp:1.0\n',
    );
    expect(await names('--filter', 'before=app:1.0')).toBe('localhost:5000/team/app:3\n');
    expect(await names('--filter', `since=${imageId}`)).toBe('web:2\n<none>:<none>\n');
    expect(await names('--filter', 'label=tier')).toBe('web:2\nlocalhost:5000/team/app:3\n');
    expect(await names('--filter', 'label=tier=web')).toBe('web:2\n');
    expect(await names('--filter', 'label=tier', '--filter', 'since=app:1.0')).toBe('web:2\n');
  });

  it('shows digests with --digests and whole IDs with --no-trunc', async () => {
    const web = await addImage('web:2', 1);
    const digests = (await tbuild('images', '--root', root, '--digests', 'web')).stdout;
    const [header, row] = digests.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual([
      'REPOSITORY',
      'TAG',
      'DIGEST',
      'IMAGE ID',
      'CREATED',
      'SIZE',
    ]);
    expect(row!.split(/\s{2,}/).slice(0, 4)).toEqual(['web', '2', web.manifest, web.id]);
    const full = (await tbuild('images', '--root', root, '--no-trunc', 'web')).stdout;
    expect(full.split('\n')[1]).toContain(web.full);
    expect((await tbuild('images', '--root', root, '-q', '--no-trunc', 'web')).stdout).toBe(
      `${web.full}\n`,
    );
  });

  it('formats rows with templates, tables of chosen columns and docker-shaped JSON', async () => {
    expect(
      (await tbuild('images', '--root', root, '--format', '{{.Repository}}\\t{{.ID}}')).stdout,
    ).toBe(`app\t${imageId}\n`);
    expect(
      (await tbuild('images', '--root', root, '--format', 'table {{.Repository}}\\t{{.Size}}'))
        .stdout,
    ).toBe('REPOSITORY   SIZE\napp          1.5MB\n');
    const json = (await tbuild('images', '--root', root, '--format', 'json')).stdout;
    expect(Object.keys(JSON.parse(json) as object)).toEqual([
      'Containers',
      'CreatedAt',
      'CreatedSince',
      'Digest',
      'ID',
      'Repository',
      'SharedSize',
      'Size',
      'Tag',
      'UniqueSize',
      'VirtualSize',
    ]);
    expect(json).toMatch(/"CreatedAt":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC"/);
    const bad = await tbuild('images', '--root', root, '--format', '{{.Nope}}');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('template: no field "Nope"');
  });

  it('refuses unknown filters and bad values as usage errors', async () => {
    const unknown = await tbuild('images', '--root', root, '--filter', 'colour=red');
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain("ERROR: invalid filter 'colour'");
    const dangling = await tbuild('images', '--root', root, '--filter', 'dangling=maybe');
    expect(dangling.code).toBe(125);
    expect((await tbuild('images', '--root', root, '--filter', 'before=nope:1')).code).toBe(1);
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
