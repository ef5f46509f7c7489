import { describe, expect, it } from 'vitest';
import { formatChecks, formatSource, parseCallOption } from './check.ts';

const source = { name: 'Dockerfile', text: 'FROM a\nRUN b\nCMD c\nENV d e\nUSER f\nLABEL g=h\n' };

describe('--check and --call', () => {
  it('reads --check, --call=check and its format; build is no check', () => {
    expect(parseCallOption(undefined, true)).toEqual({ format: 'text' });
    expect(parseCallOption('check,format=json', false)).toEqual({ format: 'json' });
    expect(parseCallOption('build', false)).toBeUndefined();
    expect(parseCallOption(undefined, false)).toBeUndefined();
    expect(() => parseCallOption('targets', false)).toThrow('--call=targets is not supported');
    expect(() => parseCallOption('check,format=yaml', false)).toThrow('invalid --call attribute');
  });
});

describe('check output', () => {
  it('excerpts two lines around one line, and one around several, as BuildKit does', () => {
    expect(formatSource(source, 3, 3).split('\n')).toEqual([
      'Dockerfile:3',
      '--------------------',
      '   1 |     FROM a',
      '   2 |     RUN b',
      '   3 | >>> CMD c',
      '   4 |     ENV d e',
      '   5 |     USER f',
      '--------------------',
      '',
    ]);
    expect(formatSource(source, 1, 1).split('\n').slice(2, 5)).toEqual([
      '   1 | >>> FROM a',
      '   2 |     RUN b',
      '   3 |     CMD c',
    ]);
    expect(formatSource(source, 3, 4).split('\n').slice(2, 6)).toEqual([
      '   2 |     RUN b',
      '   3 | >>> CMD c',
      '   4 | >>> ENV d e',
      '   5 |     USER f',
    ]);
  });

  it('sums up, then lists the warnings by line', () => {
    const at = (line: number) => ({ range: { start: line, end: line } });
    const text = formatChecks(
      {
        warnings: [
          { rule: 'B', message: 'second', url: 'https://b', location: at(4) },
          { rule: 'A', message: 'first', location: at(2) },
        ],
      },
      source,
    );
    expect(
      text.startsWith('Check complete, 2 warnings have been found!\n\nWARNING: A\nfirst\n'),
    ).toBe(true);
    expect(text).toContain('\nWARNING: B - https://b\nsecond\nDockerfile:4\n');
    expect(formatChecks({ warnings: [] }, source)).toBe('Check complete, no warnings found.\n');
  });
});
