import * as core from '@actions/core';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFileCommands } from '../../test/helpers/action-harness.ts';
import { missingPackages } from './setup.ts';
import { mask, setOutput, type ActionIO } from './runner.ts';
import { redact } from './summary.ts';

function fakeIO(env: Record<string, string> = {}): ActionIO & { text: string } {
  const io = {
    text: '',
    env,
    cwd: '/',
    uid: 0,
    signal: new AbortController().signal,
    stdout: { write: (s: string) => (io.text += s) },
  };
  return io;
}

describe('the runner protocol', () => {
  const saved = process.env.GITHUB_OUTPUT;
  afterEach(() => {
    if (saved === undefined) delete process.env.GITHUB_OUTPUT;
    else process.env.GITHUB_OUTPUT = saved;
  });

  it('writes outputs to GITHUB_OUTPUT in the form @actions/core writes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-output-'));
    try {
      const ours = path.join(dir, 'ours');
      const theirs = path.join(dir, 'theirs');
      await writeFile(ours, '');
      await writeFile(theirs, '');
      const value = '{\n  "a": "b=c"\n}';
      await setOutput(fakeIO({ GITHUB_OUTPUT: ours }), 'metadata', value);
      process.env.GITHUB_OUTPUT = theirs;
      core.setOutput('metadata', value);
      const [a, b] = await Promise.all([readFile(ours, 'utf8'), readFile(theirs, 'utf8')]);
      expect(parseFileCommands(a)).toEqual({ metadata: value });
      expect(parseFileCommands(a)).toEqual(parseFileCommands(b));
      expect(a.replace(/ghadelimiter_[0-9a-f-]+/g, 'D')).toBe(
        b.replace(/ghadelimiter_[0-9a-f-]+/g, 'D'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('masks a multi-line secret whole and line by line', () => {
    const io = fakeIO();
    mask(io, 'line one\nline two');
    expect(io.text.split('\n').filter(Boolean)).toEqual([
      '::add-mask::line one%0Aline two',
      '::add-mask::line one',
      '::add-mask::line two',
    ]);
  });

  it('redacts masked values from the summary, longest first', () => {
    expect(redact('token abc and abcdef', ['abc', 'abcdef'])).toBe('token *** and ***');
  });
});

describe('runner setup', () => {
  it('installs what required checks lack, git for a Git context, slirp4netns for the default network', () => {
    const results = [
      { id: 'runc', status: 'fail' as const, detail: '', packages: ['runc'] },
      { id: 'git', status: 'warn' as const, detail: '', packages: ['git'] },
      { id: 'find', status: 'warn' as const, detail: '', packages: ['findutils'] },
      { id: 'slirp4netns', status: 'warn' as const, detail: '', packages: ['slirp4netns'] },
    ];
    const none = { git: false, isolatedNetwork: false };
    expect(missingPackages(results, none)).toEqual(['runc']);
    expect(missingPackages(results, { ...none, git: true })).toEqual(['runc', 'git']);
    expect(missingPackages(results, { ...none, isolatedNetwork: true })).toEqual([
      'runc',
      'slirp4netns',
    ]);
  });
});
