import { describe, expect, it } from 'vitest';
import { checkDockerfile } from '../check.ts';
import { testResolver } from '../testing/lower.ts';
import { parseCheckOptions, resolveLintConfig } from './config.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };

describe('check options', () => {
  it('reads skip, error and experimental, with spaces around them', () => {
    const config = parseCheckOptions(' skip = A, B ; error = true ; experimental=C');
    expect([...config.skip]).toEqual(['A', 'B']);
    expect(config.errorOnWarnings).toBe(true);
    expect([...config.experimental]).toEqual(['C']);
    expect(parseCheckOptions('skip=all').skipAll).toBe(true);
    expect(parseCheckOptions('experimental=all').experimentalAll).toBe(true);
  });

  it('refuses what BuildKit refuses, naming where it came from', () => {
    expect(() => resolveLintConfig('skip', {})).toThrow(
      'failed to parse check options: invalid check option "skip"',
    );
    expect(() => resolveLintConfig('unknown=1', {})).toThrow('invalid check option "unknown"');
    expect(() =>
      resolveLintConfig(undefined, { BUILDKIT_DOCKERFILE_CHECK: 'error=maybe' }),
    ).toThrow(
      'failed to parse BUILDKIT_DOCKERFILE_CHECK: failed to parse check option "error=maybe"',
    );
  });

  it('takes BUILDKIT_DOCKERFILE_CHECK instead of the directive, even when empty', () => {
    expect(resolveLintConfig('skip=all', { BUILDKIT_DOCKERFILE_CHECK: '' }).skipAll).toBe(false);
    expect(resolveLintConfig('skip=all', {}).skipAll).toBe(true);
  });
});

describe('checks under a configuration', () => {
  const run = (dockerfile: string, buildArgs: Record<string, string> = {}) =>
    checkDockerfile(
      dockerfile,
      { buildArgs, platform: amd64, buildPlatform: amd64, dockerignore: [] },
      testResolver,
    );

  it('skips the rules named, and all of them with skip=all', async () => {
    const text = 'FROM alpine:3.20 AS Base\nCMD run\n';
    const some = await run(`# check=skip=StageNameCasing\n${text}`);
    expect(some.warnings.map((w) => w.rule)).toEqual(['JSONArgsRecommended']);
    expect((await run(`# check=skip=all\n${text}`)).warnings).toEqual([]);
  });

  it('fails with error=true once warnings were found, and not without them', async () => {
    const failed = await run('# check=error=true\nFROM alpine:3.20\nCMD run\nENV A b\n');
    expect(failed.warnings).toHaveLength(2);
    expect(failed.error?.message).toBe(
      'lint violation found for rules: JSONArgsRecommended, LegacyKeyValueFormat',
    );
    expect(
      (await run('# check=error=true\nFROM alpine:3.20\nCMD ["run"]\n')).error,
    ).toBeUndefined();
  });

  it('still reports what was found before a Dockerfile error', async () => {
    const result = await run('FROM alpine:3.20 as base\nFOO bar\n');
    expect(result.warnings.map((w) => w.rule)).toEqual(['FromAsCasing']);
    expect(result.error?.location?.range?.start).toBe(2);
  });
});
