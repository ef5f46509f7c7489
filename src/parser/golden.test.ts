/**
 * Golden fixtures: fixtures/parser/<case>/Dockerfile parses to result.json (what
 * `tbuild parse --format json` prints) plus warnings.json when the parse warns;
 * fixtures/parser/negative/<case>/Dockerfile fails as error.json says.
 * `UPDATE_GOLDEN=1 npx vitest run --project unit src/parser/golden.test.ts` rewrites them.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DockerfileParseError } from './errors.ts';
import { parseDockerfile } from './parser.ts';
import { formatParseResultJson } from './result-format.ts';

const root = fileURLToPath(new URL('../../fixtures/parser/', import.meta.url));
const negativeRoot = join(root, 'negative');
const update = process.env.UPDATE_GOLDEN === '1';

function listCases(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'Dockerfile')))
    .sort();
}

/** Compares with the stored file, or rewrites it under UPDATE_GOLDEN=1. */
function expectGolden(path: string, actual: string | undefined): void {
  if (update) {
    if (actual === undefined) rmSync(path, { force: true });
    else writeFileSync(path, actual);
    return;
  }
  const expected = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  expect(actual).toBe(expected);
}

const positiveCases = listCases(root);
const negativeCases = listCases(negativeRoot);

describe('golden Dockerfiles', () => {
  test('there are at least 30 positive and 10 negative cases', () => {
    expect(positiveCases.length).toBeGreaterThanOrEqual(30);
    expect(negativeCases.length).toBeGreaterThanOrEqual(10);
  });

  test.each(positiveCases)('%s parses to its result.json', (name) => {
    const dir = join(root, name);
    const result = parseDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'));
    expectGolden(
      join(dir, 'result.json'),
      JSON.stringify(formatParseResultJson(result), null, 2) + '\n',
    );
    const warnings =
      result.warnings.length > 0 ? JSON.stringify(result.warnings, null, 2) + '\n' : undefined;
    expectGolden(join(dir, 'warnings.json'), warnings);
  });
});

interface ExpectedError {
  code: string;
  line: number;
  messageIncludes: string;
}

describe('negative Dockerfiles', () => {
  test.each(negativeCases)('%s is rejected as error.json says', (name) => {
    const dir = join(negativeRoot, name);
    const expected = JSON.parse(readFileSync(join(dir, 'error.json'), 'utf8')) as ExpectedError;
    let caught: unknown;
    try {
      parseDockerfile(readFileSync(join(dir, 'Dockerfile'), 'utf8'), { file: 'Dockerfile' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DockerfileParseError);
    const error = caught as DockerfileParseError;
    expect(error.code).toBe(expected.code);
    expect(error.message).toContain(expected.messageIncludes);
    expect(error.location.range.start).toBe(expected.line);
    expect(error.location.range.end).toBeGreaterThanOrEqual(error.location.range.start);
    expect(error.location.file).toBe('Dockerfile');
    expect(error.hint?.length).toBeGreaterThan(10);
  });
});
