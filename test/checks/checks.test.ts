/**
 * tbuild's build checks against Docker 28.5's: each case under test/checks/cases/ must give
 * the rules, lines and messages `docker buildx build --check` reported for it
 * (test/checks/expected/, recorded by scripts/checks-record.ts). The base image is the
 * reference registry's busybox, whose config is reproduced here.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDockerfile } from '../../src/frontend/index.ts';
import type { BaseImageResolver } from '../../src/frontend/index.ts';
import { parseDockerignore } from '../../src/parser/index.ts';
import type { ImageConfig } from '../../src/shared/oci.ts';
import { BASE_IMAGE, listCheckCases, sortWarnings } from './cases.ts';
import type { CheckCase, CheckExpectation } from './cases.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };

/** localhost:5000/busybox:latest as the reference registry serves it (no Env, Cmd sh). */
const busybox: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: { Env: null, Cmd: ['sh'] } as unknown as ImageConfig['config'],
  rootfs: { type: 'layers', diff_ids: [`sha256:${'3b'.repeat(32)}`] },
  history: [{ comment: 'Imported from -' }],
};

/** The registry has one image: busybox, by its name with or without `:latest`. */
const images: BaseImageResolver = {
  async resolve(ref) {
    const tagged = /:[^/]+$/.test(ref) ? ref : `${ref}:latest`;
    return tagged === BASE_IMAGE ? { ref: tagged, config: structuredClone(busybox) } : undefined;
  },
};

async function runCase(c: CheckCase): Promise<Omit<CheckExpectation, 'exitCode'>> {
  const ignoreFile = c.context && path.join(c.context, '.dockerignore');
  const dockerignore =
    ignoreFile && existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : [];
  const result = await checkDockerfile(
    readFileSync(c.dockerfile, 'utf8'),
    {
      buildArgs: { ...c.spec.buildArgs },
      ...(c.spec.target ? { target: c.spec.target } : {}),
      platform: amd64,
      buildPlatform: amd64,
      dockerignore,
      file: 'Dockerfile',
    },
    images,
  );
  const warnings = sortWarnings(
    result.warnings.map((w) => ({
      rule: w.rule!,
      line: w.location?.range?.start ?? 0,
      message: w.message,
    })),
  );
  if (!result.error) return { warnings };
  const line = result.error.location?.range?.start;
  return { warnings, error: { message: result.error.message, ...(line ? { line } : {}) } };
}

describe('build checks match docker buildx build --check', () => {
  const cases = listCheckCases();

  it('has a recorded expectation for every case, and covers every rule tbuild has', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const missing = cases.filter((c) => !existsSync(c.expectedFile)).map((c) => c.name);
    expect(missing).toEqual([]);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const expected = JSON.parse(readFileSync(c.expectedFile, 'utf8')) as CheckExpectation;
    const actual = await runCase(c);
    expect(actual.warnings).toEqual(expected.warnings);
    // Errors are worded by each tool; what must agree is that the check failed, and where.
    expect(actual.error !== undefined).toBe(expected.error !== undefined);
    if (expected.error?.line !== undefined) expect(actual.error?.line).toBe(expected.error.line);
    if (expected.error?.message.startsWith('lint violation'))
      expect(actual.error?.message).toBe(expected.error.message);
  });
});
