import { describe, expect, it } from 'vitest';
import { TbuildError, withSource } from '../shared/errors.ts';
import { formatError } from './errors.ts';

describe('formatError', () => {
  it('shows the failing Dockerfile lines with context, the hint, and the exit code', () => {
    const error = withSource(
      new TbuildError('TBUILD_RUN_FAILED', 'exit code: 3', {
        location: { file: 'Dockerfile', range: { start: 4, end: 4 } },
        hint: 'Read the step output above.',
      }),
      { file: 'Dockerfile', text: 'FROM busybox\nRUN echo one\nRUN echo two\nRUN exit 3\n' },
    );
    expect(formatError(error)).toEqual({
      code: 1,
      text: [
        'ERROR: exit code: 3',
        '------',
        'Dockerfile:4',
        '--------------------',
        ' 2 |     RUN echo one',
        ' 3 |     RUN echo two',
        ' 4 | >>> RUN exit 3',
        '--------------------',
        '  hint: Read the step output above.',
      ].join('\n'),
    });
  });

  it('keeps each error with its own Dockerfile, so two builds do not mix their sources', () => {
    const at = (file: string) =>
      new TbuildError('X', 'bad', { location: { file, range: { start: 1, end: 1 } } });
    const a = withSource(at('a/Dockerfile'), { file: 'a/Dockerfile', text: 'FROM a\n' });
    const b = withSource(at('b/Dockerfile'), { file: 'b/Dockerfile', text: 'FROM b\n' });
    expect(formatError(a).text).toContain('>>> FROM a');
    expect(formatError(b).text).toContain('>>> FROM b');
    // An error that points into another file is not given this one's text.
    const other = withSource(at('c/Dockerfile'), { file: 'a/Dockerfile', text: 'FROM a\n' });
    expect(formatError(other).text).toBe('ERROR: bad\n  at c/Dockerfile:1');
  });

  it('names the place when the file text is not known', () => {
    const error = new TbuildError('X', 'bad', {
      location: { file: 'other/Dockerfile', range: { start: 2, end: 3 } },
    });
    expect(formatError(error).text).toBe('ERROR: bad\n  at other/Dockerfile:2-3');
  });

  it('prints unknown errors with their stack as bugs', () => {
    expect(formatError(new Error('boom')).text).toMatch(
      /^ERROR \(internal\): Error: boom[\s\S]*This is a bug/,
    );
  });

  it('shows an instruction of 150,000 continuation lines by its ends, without overflowing the stack', () => {
    const text = `FROM busybox\nRUN false \\\n${' && true \\\n'.repeat(150_000)} && false\n`;
    const error = withSource(
      new TbuildError('TBUILD_RUN_FAILED', 'exit code: 1', {
        location: { file: 'Dockerfile', range: { start: 2, end: 150_003 } },
      }),
      { file: 'Dockerfile', text },
    );
    const lines = formatError(error).text.split('\n');
    expect(lines.length).toBeLessThan(20);
    expect(lines).toContain('Dockerfile:2-150003');
    expect(lines).toContain('        | >>> … 149992 more lines …');
    expect(lines.at(-2)).toBe(' 150003 | >>>  && false');
  });

  it('cuts a line of megabytes in the excerpt', () => {
    const error = withSource(
      new TbuildError('TBUILD_X', 'bad', {
        location: { file: 'Dockerfile', range: { start: 1, end: 1 } },
      }),
      { file: 'Dockerfile', text: `LABEL a=${'x'.repeat(1_000_000)}\n` },
    );
    const text = formatError(error).text;
    expect(text.length).toBeLessThan(1000);
    expect(text).toContain('more characters');
  });
});
