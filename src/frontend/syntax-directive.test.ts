import { describe, expect, it } from 'vitest';
import { lower } from './testing/lower.ts';

const withSyntax = (syntax: string) =>
  `# syntax=${syntax}\n# escape=\\\nFROM busybox\nRUN echo hi\n`;

async function syntaxWarnings(syntax: string): Promise<string[]> {
  const result = await lower(withSyntax(syntax));
  return result.warnings.filter((w) => w.message.includes('# syntax=')).map((w) => w.message);
}

describe('# syntax=', () => {
  it.each([
    'docker/dockerfile:1',
    'docker/dockerfile:1.7',
    'docker.io/docker/dockerfile:1.20.0',
    'docker/dockerfile',
    'docker/dockerfile:1@sha256:' + 'a'.repeat(64),
  ])('%s is the stable syntax the built-in frontend follows: no warning', async (syntax) => {
    expect(await syntaxWarnings(syntax)).toEqual([]);
  });

  it('warns that an unknown frontend is not run, at the directive line', async () => {
    const result = await lower(withSyntax('example.com/my/frontend:2'));
    const warning = result.warnings.find((w) => w.message.includes('# syntax='));
    expect(warning).toEqual({
      message:
        '# syntax=example.com/my/frontend:2 is not run: tbuild builds with its built-in Dockerfile frontend (syntax 1.20), which does not know instructions, flags or syntax specific to example.com/my/frontend:2',
      location: { file: 'Dockerfile', range: { start: 1, end: 1 } },
    });
  });

  it.each([
    ['docker/dockerfile:1-labs', 'labs-only features (RUN --device)'],
    ['docker/dockerfile:1.14-labs', 'labs-only features (RUN --device)'],
    ['docker/dockerfile-upstream:master', 'unreleased upstream versions'],
    ['docker/dockerfile:1.26', 'features added after 1.20'],
    ['docker/dockerfile:2', 'features added after 1.20'],
  ])('names what %s has that the built-in frontend may lack', async (syntax, lack) => {
    const [message] = await syntaxWarnings(syntax);
    expect(message).toContain('tbuild builds with its built-in Dockerfile frontend');
    expect(message).toContain(lack);
  });
});
