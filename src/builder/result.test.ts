import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedBuildOptions } from './options.ts';
import { writeResultFiles } from './result.ts';
import type { BuildMetadata } from './types.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tbuild-result-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const metadata = {
  'containerimage.config.digest': 'sha256:1111',
  'containerimage.digest': 'sha256:2222',
} as unknown as BuildMetadata;

describe('--iidfile and --metadata-file', () => {
  it('are replaced whole through a rename, leaving no temporary file', async () => {
    const iidfile = path.join(dir, 'app.iid');
    const metadataFile = path.join(dir, 'meta.json');
    await writeFile(iidfile, 'sha256:old');
    const options = { iidfile, metadataFile } as ResolvedBuildOptions;
    // A reader polling the file while it is rewritten sees the old ID or the new one.
    let reading = true;
    const seen = new Set<string>();
    const poll = (async () => {
      while (reading) seen.add(await readFile(iidfile, 'utf8'));
    })();
    for (let i = 0; i < 50; i++) await writeResultFiles(options, metadata);
    reading = false;
    await poll;
    expect([...seen].every((s) => s === 'sha256:old' || s === 'sha256:1111')).toBe(true);
    expect(await readFile(iidfile, 'utf8')).toBe('sha256:1111');
    expect(JSON.parse(await readFile(metadataFile, 'utf8'))).toEqual(metadata);
    expect((await readdir(dir)).sort()).toEqual(['app.iid', 'meta.json']);
  });
});
