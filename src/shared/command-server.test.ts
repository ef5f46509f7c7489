import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runShortCommand, spawnDirectly } from './command-server.ts';

describe('runShortCommand (through the bash command server)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-cmd-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the exit status and both outputs, as spawn does', async () => {
    const script = 'printf "out\\n"; printf "err\\n" >&2; exit 3';
    const viaServer = await runShortCommand('sh', ['-c', script]);
    const direct = await spawnDirectly('sh', ['-c', script]);
    expect(viaServer).toEqual(direct);
    expect(viaServer.code).toBe(3);
    expect(viaServer.stdout.toString()).toBe('out\n');
    expect(viaServer.stderr.toString()).toBe('err\n');
  });

  it('passes arguments through unchanged: spaces, quotes, newlines, globs, empty ones', async () => {
    const args = ['a b', "it's", 'two\nlines', '*', '', '$HOME', '"q"', '\\', '-n'];
    const result = await runShortCommand('printf', ['[%s]', ...args]);
    expect(result.stdout.toString()).toBe(args.map((a) => `[${a}]`).join(''));
  });

  it('runs in cwd, feeds input, reports a death by signal as 128 + n', async () => {
    expect((await runShortCommand('pwd', [], { cwd: dir })).stdout.toString()).toBe(`${dir}\n`);
    const fed = await runShortCommand('wc', ['-c'], { input: Buffer.alloc(70_000, 1) });
    expect(fed.stdout.toString().trim()).toBe('70000');
    expect((await runShortCommand('cat', [])).stdout.length).toBe(0); // stdin is empty
    expect((await runShortCommand('sh', ['-c', 'kill -TERM $$'])).code).toBe(128 + 15);
  });

  it('rejects with ENOENT when the program does not exist, or cwd does not', async () => {
    await expect(runShortCommand('tbuild-no-such-tool', [])).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(
      runShortCommand('true', [], { cwd: path.join(dir, 'missing') }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('finds programs on the PATH of the moment, not the one it started with', async () => {
    const bin = path.join(dir, 'bin');
    await rm(bin, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(bin));
    await writeFile(path.join(bin, 'tbuild-fake-tool'), '#!/bin/sh\necho fake "$@"\n');
    await chmod(path.join(bin, 'tbuild-fake-tool'), 0o755);
    const before = process.env.PATH;
    process.env.PATH = `${bin}:${before}`;
    try {
      const result = await runShortCommand('tbuild-fake-tool', ['x']);
      expect(result.stdout.toString()).toBe('fake x\n');
    } finally {
      process.env.PATH = before;
    }
    await expect(runShortCommand('tbuild-fake-tool', [])).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('runs the tool from its server, not from this process', async () => {
    const parent = Number((await runShortCommand('sh', ['-c', 'echo $PPID'])).stdout.toString());
    expect(parent).toBeGreaterThan(0);
    expect(parent).not.toBe(process.pid);
  });

  it('keeps many concurrent commands apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        runShortCommand('sh', [
          '-c',
          `sleep 0.0$((${i} % 3)); echo ${i}; echo e${i} >&2; exit $((${i} % 7))`,
        ]),
      ),
    );
    results.forEach((result, i) => {
      expect(result.stdout.toString()).toBe(`${i}\n`);
      expect(result.stderr.toString()).toBe(`e${i}\n`);
      expect(result.code).toBe(i % 7);
    });
  });
});
