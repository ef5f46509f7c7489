/**
 * The command line as a docker user types it: command names, global flags before the
 * command, and exit status 125 for every usage error (1 stays for input that cannot be had).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContext } from '../helpers/build-harness.ts';
import { runTbuild } from '../helpers/run-tbuild.ts';

let store: string;
let context: string;
beforeAll(async () => {
  store = mkdtempSync(path.join(os.tmpdir(), 'tbuild-cli-store-'));
  context = await makeContext({ 'app/Dockerfile': 'FROM scratch\nLABEL made=by-tbuild\n' });
});
afterAll(() => {
  rmSync(store, { recursive: true, force: true });
  rmSync(context, { recursive: true, force: true });
});

describe('command names', () => {
  it('calls a mistyped command unknown and suggests the closest one', async () => {
    const run = await runTbuild(['bild'], { cwd: context });
    expect(run.code).toBe(125);
    expect(run.stderr).toContain('ERROR: unknown command "bild" for "tbuild"');
    expect(run.stderr).toContain('Did you mean `tbuild build`?');
  });

  it.each(['bake', 'bulid'])('does not take `tbuild %s` for a build context', async (word) => {
    const run = await runTbuild([word], { cwd: context });
    expect(run.code).toBe(125);
    expect(run.stderr).toContain(`unknown command "${word}"`);
    expect(run.stderr).not.toContain('not found');
  });

  it('still builds an existing directory named by a bare word', async () => {
    const run = await runTbuild(['--root', store, 'app', '--dry-run'], { cwd: context });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('made');
  });

  it('takes global flags before the command', async () => {
    const run = await runTbuild(['--root', store, 'images'], { cwd: context });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID/);
    const inline = await runTbuild([`--root=${store}`, 'images', '-q'], { cwd: context });
    expect(inline.code, inline.stderr).toBe(0);
  });
});

describe('exit status', () => {
  it.each([
    ['an unknown flag', ['images', '--bogus']],
    ['an unknown build flag', ['build', '--bogus', 'app']],
    ['a bad --progress', ['build', '--progress=fancy', 'app']],
    ['a bad --network', ['build', '--network=bogus', 'app']],
    ['an invalid --platform', ['build', '--platform=foo', 'app']],
    ['a --platform list ending in a comma', ['build', '--platform=linux/amd64,', 'app']],
    ['a --platform list naming one platform twice', ['build', '--platform=amd64,linux', 'app']],
    ['an unknown --platform architecture', ['build', '--platform=linux/nosucharch', 'app']],
    ['a --platform that is not Linux', ['build', '--platform=windows/amd64', 'app']],
    ['an unknown output type', ['build', '-o', 'type=nope', 'app']],
    ['a build-arg without a name', ['build', '--build-arg', '=x', 'app']],
    ['an unsupported flag', ['build', '--sbom=true', 'app']],
    ['a --cache-to without its destination', ['build', '--cache-to', 'type=local', 'app']],
    ['a bad --cache-to mode', ['build', '--cache-to', 'type=local,dest=c,mode=all', 'app']],
    ['an unknown prune filter', ['prune', '-f', '--filter', 'foo=1']],
  ])('is 125 for %s, with a one-line error and a hint', async (_what, args) => {
    const run = await runTbuild(['--root', store, ...args], { cwd: context });
    expect(run.code, run.stderr).toBe(125);
    expect(run.stderr).toMatch(/^ERROR: .+\n {2}hint: .+\n$/);
  });

  it('is 1 for a context path that does not exist, as in docker', async () => {
    const run = await runTbuild(['--root', store, 'build', './nowhere'], { cwd: context });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('unable to prepare context: path "./nowhere" not found');
  });
});

describe('attestations', () => {
  it.each([
    ['--sbom=true', 'SBOM'],
    ['--sbom=generator=docker/buildkit-syft-scanner', 'SBOM'],
    ['--provenance=mode=max', 'provenance'],
    ['--provenance=true', 'provenance'],
  ])('refuses %s until tbuild makes them, so CI does not ship without one', async (flag, what) => {
    const run = await runTbuild(['--root', store, 'build', flag, '--dry-run', 'app'], {
      cwd: context,
    });
    expect(run.code).toBe(125);
    expect(run.stderr).toContain(`ERROR: ${flag}: tbuild does not make ${what} attestations yet`);
  });

  it.each([['--sbom=false'], ['--provenance=false'], ['--provenance=0'], ['--sbom=disabled=true']])(
    'accepts %s',
    async (flag) => {
      const run = await runTbuild(['--root', store, 'build', flag, '--dry-run', 'app'], {
        cwd: context,
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).not.toContain('attestation');
    },
  );
});
