import { chmodSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { which, whichSync } from './which.ts';

describe('which', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tbuild-which-'));
  const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
  mkdirSync(a);
  mkdirSync(b);
  writeFileSync(path.join(a, 'tool'), '#!/bin/sh\n', { mode: 0o644 }); // not executable
  writeFileSync(path.join(b, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(path.join(a, 'first'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(path.join(b, 'first'), '#!/bin/sh\n', { mode: 0o755 });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const searchPath = ['', a, b].join(path.delimiter);

  it('finds the first executable on the path, skipping non-executable files and empty entries', async () => {
    expect(whichSync('tool', searchPath)).toBe(path.join(b, 'tool'));
    expect(whichSync('first', searchPath)).toBe(path.join(a, 'first'));
    expect(await which('tool', searchPath)).toBe(path.join(b, 'tool'));
  });

  it('says undefined for a program that is nowhere, and checks a path with a slash itself', async () => {
    expect(whichSync('missing', searchPath)).toBeUndefined();
    expect(await which(path.join(b, 'tool'), '')).toBe(path.join(b, 'tool'));
    chmodSync(path.join(b, 'tool'), 0o644);
    expect(await which(path.join(b, 'tool'), '')).toBeUndefined();
  });
});
