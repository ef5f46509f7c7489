import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseWatchFlags, runWatchCli } from './run.ts';

describe('watch flags', () => {
  it('take a debounce as a duration or milliseconds, and default to 100ms', () => {
    expect(parseWatchFlags({}).debounceMs).toBe(100);
    expect(parseWatchFlags({ debounce: '20ms' }).debounceMs).toBe(20);
    expect(parseWatchFlags({ debounce: '1.5s' }).debounceMs).toBe(1500);
    expect(parseWatchFlags({ debounce: '250' }).debounceMs).toBe(250);
    expect(() => parseWatchFlags({ debounce: 'soon' })).toThrow(/invalid --debounce "soon"/);
  });

  it('give --run its command and stop timeout in milliseconds', () => {
    expect(
      parseWatchFlags({ run: true, command: ['node', 'app.js'], stopTimeout: 3 }),
    ).toMatchObject({
      run: { command: ['node', 'app.js'], stopTimeoutMs: 3000 },
    });
    expect(parseWatchFlags({ run: true }).run).toEqual({ stopTimeoutMs: 10_000 });
  });

  it('refuse a command without --run, and --run with --exec', () => {
    expect(() => parseWatchFlags({ command: ['x'] })).toThrow(/a command after -- is for --run/);
    expect(() => parseWatchFlags({ run: true, exec: 'make' })).toThrow(/cannot be combined/);
    expect(() => parseWatchFlags({ stopTimeout: -1 })).toThrow(/invalid --stop-timeout/);
  });
});

describe('watch and build checks', () => {
  it('refuses --check, which builds nothing to watch', async () => {
    const io = {
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      env: {},
      cwd: process.cwd(),
      signal: new AbortController().signal,
    };
    await expect(runWatchCli({ check: true }, {}, io)).rejects.toThrow(
      '--check (--call=check) cannot be combined with watch',
    );
  });
});
