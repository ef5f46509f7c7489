import {
  appendFileSync,
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashText, inputsSignature, invocationKey, MAX_CONTEXT_ENTRIES } from './fingerprint.ts';

let dir: string;
let paths: { contextDir: string; dockerfile: string };
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tbuild-fingerprint-'));
  const contextDir = path.join(dir, 'ctx');
  mkdirSync(path.join(contextDir, 'src'), { recursive: true });
  writeFileSync(path.join(contextDir, 'src', 'main.txt'), 'main\n');
  writeFileSync(path.join(contextDir, 'deps.txt'), 'left-pad\n');
  symlinkSync('deps.txt', path.join(contextDir, 'link'));
  // A Dockerfile outside the context (-f), with its own ignore file beside it.
  writeFileSync(path.join(dir, 'app.Dockerfile'), 'FROM scratch\n');
  paths = { contextDir, dockerfile: path.join(dir, 'app.Dockerfile') };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Whether `change` changes the inputs' signature. */
function changes(change: () => void): boolean {
  const before = inputsSignature(paths)?.hash;
  change();
  return inputsSignature(paths)?.hash !== before;
}

const at = (...parts: string[]) => path.join(paths.contextDir, ...parts);

describe("the inputs' signature", () => {
  it('stays while nothing changes, reads included', () => {
    expect(inputsSignature(paths)?.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(changes(() => statSync(at('src', 'main.txt')))).toBe(false);
  });

  it('changes with every kind of edit under the context', () => {
    expect(changes(() => appendFileSync(at('src', 'main.txt'), 'more\n'))).toBe(true);
    // Same size, modification time put back: the change time still moves.
    const { atime, mtime } = statSync(at('deps.txt'));
    expect(
      changes(() => {
        writeFileSync(at('deps.txt'), 'right-pd\n');
        utimesSync(at('deps.txt'), atime, mtime);
      }),
    ).toBe(true);
    expect(changes(() => chmodSync(at('deps.txt'), 0o600))).toBe(true);
    // The owner is not in the signature, but a chown moves the change time.
    expect(changes(() => chownSync(at('deps.txt'), 1234, 1234))).toBe(true);
    expect(changes(() => renameSync(at('src', 'main.txt'), at('src', 'app.txt')))).toBe(true);
    expect(changes(() => writeFileSync(at('new.txt'), ''))).toBe(true);
    expect(changes(() => unlinkSync(at('new.txt')))).toBe(true);
    expect(
      changes(() => {
        unlinkSync(at('link'));
        symlinkSync('src', at('link'));
      }),
    ).toBe(true);
    expect(
      changes(() => {
        unlinkSync(at('deps.txt'));
        mkdirSync(at('deps.txt'));
      }),
    ).toBe(true);
  });

  it('changes with the Dockerfile outside the context and the ignore file beside it', () => {
    expect(changes(() => appendFileSync(paths.dockerfile, 'CMD ["x"]\n'))).toBe(true);
    expect(changes(() => writeFileSync(`${paths.dockerfile}.dockerignore`, 'src\n'))).toBe(true);
  });

  it('follows a Dockerfile that is a symlink to its target', () => {
    writeFileSync(path.join(dir, 'real.Dockerfile'), 'FROM scratch\n');
    unlinkSync(paths.dockerfile);
    symlinkSync('real.Dockerfile', paths.dockerfile);
    expect(changes(() => appendFileSync(path.join(dir, 'real.Dockerfile'), '#\n'))).toBe(true);
  });

  it('tells names apart that are not UTF-8', () => {
    const name = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
    const file = Buffer.concat([Buffer.from(`${paths.contextDir}/`), name]);
    writeFileSync(file, 'a');
    expect(changes(() => writeFileSync(file, 'ab'))).toBe(true);
  });

  it('says until when a change could keep its times', () => {
    const now = Date.now();
    writeFileSync(at('deps.txt'), 'fresh\n');
    const { settlesAt } = inputsSignature(paths)!;
    expect(settlesAt).toBeGreaterThanOrEqual(now + 50 - 20); // change time's clock is coarse
    expect(settlesAt).toBeLessThan(Date.now() + 2100);
  });

  it('leaves out what .dockerignore excludes, as the build does, and nothing else', () => {
    writeFileSync(at('.dockerignore'), '.git\nnode_modules\n!node_modules/keep\nDockerfile\n');
    mkdirSync(at('.git'));
    mkdirSync(at('node_modules', 'dep'), { recursive: true });
    writeFileSync(at('node_modules', 'keep'), 'k');
    writeFileSync(at('Dockerfile'), 'FROM scratch\n');
    // Past the limit, but excluded: not even counted.
    for (let i = 0; i <= MAX_CONTEXT_ENTRIES; i++) writeFileSync(at('.git', `o${i}`), '');
    expect(inputsSignature(paths)).toBeDefined();
    expect(changes(() => writeFileSync(at('.git', 'HEAD'), 'ref'))).toBe(false);
    expect(changes(() => writeFileSync(at('node_modules', 'dep', 'x.js'), '1'))).toBe(false);
    // Re-included by an exception; the ignore file and an excluded Dockerfile are read anyway.
    expect(changes(() => writeFileSync(at('node_modules', 'keep'), 'kk'))).toBe(true);
    expect(changes(() => appendFileSync(at('.dockerignore'), 'deps.txt\n'))).toBe(true);
    const inside = { ...paths, dockerfile: at('Dockerfile') };
    const before = inputsSignature(inside)?.hash;
    appendFileSync(at('Dockerfile'), 'CMD ["x"]\n');
    expect(inputsSignature(inside)?.hash).not.toBe(before);
  });

  it('reads the ignore file beside the Dockerfile first, as the build does', () => {
    writeFileSync(`${paths.dockerfile}.dockerignore`, 'src\n');
    writeFileSync(at('.dockerignore'), 'deps.txt\n');
    expect(changes(() => writeFileSync(at('src', 'main.txt'), 'edited\n'))).toBe(false);
    expect(changes(() => writeFileSync(at('deps.txt'), 'edited\n'))).toBe(true);
  });

  it('is not made for a context of more entries than the limit', () => {
    for (let i = 0; i < MAX_CONTEXT_ENTRIES; i++) writeFileSync(at(`f${i}`), '');
    expect(inputsSignature(paths)).toBeUndefined();
  });
});

describe("an invocation's key", () => {
  const codeFile = import.meta.filename;
  const base = {
    argv: ['-t', 'app', '.'],
    cwd: '/src',
    env: { PATH: '/bin' },
    codeFile,
    uid: 0,
    gid: 0,
  };

  it('is the same for the same invocation, whatever order the environment has', () => {
    const env = { A: '1', PATH: '/bin' };
    expect(invocationKey({ ...base, env })).toBe(
      invocationKey({ ...base, env: { PATH: '/bin', A: '1' } }),
    );
  });

  it('leaves out a PWD that names the working directory, and only that one', () => {
    const key = invocationKey(base);
    expect(invocationKey({ ...base, env: { ...base.env, PWD: '/src' } })).toBe(key);
    expect(invocationKey({ ...base, env: { ...base.env, PWD: '/link/src' } })).not.toBe(key);
  });

  it('differs with the arguments, the directory, the environment and the code', () => {
    const key = invocationKey(base);
    expect(invocationKey({ ...base, argv: ['-t', 'app', '--no-cache', '.'] })).not.toBe(key);
    expect(invocationKey({ ...base, cwd: '/other' })).not.toBe(key);
    expect(invocationKey({ ...base, env: { PATH: '/bin', SOURCE_DATE_EPOCH: '0' } })).not.toBe(key);
    expect(invocationKey({ ...base, codeFile: path.join(dir, 'app.Dockerfile') })).not.toBe(key);
    expect(invocationKey({ ...base, uid: 1000, gid: 1000 })).not.toBe(key);
  });
});

describe('hashText', () => {
  it('gives 128 bits and tells inputs of one length apart', () => {
    expect(hashText('')).toMatch(/^[0-9a-f]{32}$/);
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(hashText(`entry-${i.toString().padStart(6, '0')}`));
    expect(seen.size).toBe(20_000);
    expect(hashText('ab')).not.toBe(hashText('ba'));
  });
});
