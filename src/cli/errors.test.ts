import { describe, expect, it } from 'vitest';
import { TbuildError } from '../shared/errors.ts';
import { errorSources, formatError } from './errors.ts';

describe('formatError', () => {
  it('shows the failing Dockerfile lines with context, the hint, and the exit code', () => {
    errorSources.set('Dockerfile', 'FROM busybox\nRUN echo one\nRUN echo two\nRUN exit 3\n');
    const error = new TbuildError('TBUILD_RUN_FAILED', 'exit code: 3', {
      location: { file: 'Dockerfile', range: { start: 4, end: 4 } },
      hint: 'Read the step output above.',
    });
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
});
