import stringWidth from 'string-width';
import { describe, expect, it, vi } from 'vitest';
import type { Digest } from '../shared/digest.ts';
import type { ProgressEvent } from '../shared/progress.ts';
import { openRenderer, resolveRendererMode } from './index.ts';
import { loadColumnWidths } from './tty.ts';
import type { Writable } from './types.ts';

const d = (n: number): Digest => `sha256:${String(n).repeat(64)}`;
const T = 1_700_000_000_000;

/** A failing build: a cached base, a context transfer, a step that fails, one cancelled. */
const script: ProgressEvent[] = [
  { type: 'build.started', time: T },
  { type: 'task.started', time: T + 1, id: 'resolve', name: 'resolve image config for alpine' },
  {
    type: 'task.completed',
    time: T + 41,
    id: 'resolve',
    name: 'resolve image config for alpine',
    durationMs: 40,
  },
  {
    type: 'vertex.cached',
    time: T + 50,
    digest: d(1),
    name: '[base 1/3] FROM docker.io/library/alpine:3.20',
  },
  {
    type: 'vertex.cache-miss',
    time: T + 51,
    digest: d(2),
    name: '[internal] load build context',
    reason: 'this step is never cached; it always runs',
  },
  { type: 'vertex.started', time: T + 52, digest: d(2), name: '[internal] load build context' },
  {
    type: 'vertex.progress',
    time: T + 90,
    digest: d(2),
    id: 'transferring context',
    current: 5,
    total: 10,
  },
  {
    type: 'vertex.progress',
    time: T + 100,
    digest: d(2),
    id: 'transferring context',
    current: 10,
    total: 10,
  },
  {
    type: 'vertex.completed',
    time: T + 112,
    digest: d(2),
    name: '[internal] load build context',
    durationMs: 60,
  },
  {
    type: 'vertex.cache-miss',
    time: T + 150,
    digest: d(3),
    name: '[build 2/3] RUN make',
    reason:
      'no cache record for key sha256:0123456789ab; input "[internal] load build context" changed',
  },
  {
    type: 'vertex.started',
    time: T + 150,
    digest: d(3),
    name: '[build 2/3] RUN make',
    location: { file: 'Dockerfile', range: { start: 4, end: 4 } },
  },
  {
    type: 'vertex.log',
    time: T + 662,
    digest: d(3),
    stream: 'stdout',
    data: 'cc -o app main.c\nlink',
  },
  { type: 'vertex.started', time: T + 200, digest: d(4), name: '[test 2/2] RUN false' },
  { type: 'vertex.log', time: T + 300, digest: d(4), stream: 'stderr', data: 'boom\n' },
  { type: 'vertex.log', time: T + 700, digest: d(3), stream: 'stdout', data: 'ing done\n' },
  {
    type: 'vertex.error',
    time: T + 1400,
    digest: d(4),
    name: '[test 2/2] RUN false',
    error: {
      code: 'TBUILD_STEP_FAILED',
      message: 'process "/bin/sh -c false" did not complete successfully: exit code: 1',
    },
    location: { file: 'Dockerfile', range: { start: 9, end: 9 } },
  },
  {
    type: 'vertex.error',
    time: T + 1410,
    digest: d(3),
    name: '[build 2/3] RUN make',
    error: { code: 'TBUILD_CANCELLED', message: 'cancelled' },
  },
  {
    type: 'warning',
    time: T + 1420,
    message: 'FROM uses a tag, not a digest',
    location: { range: { start: 1, end: 1 } },
  },
  { type: 'build.completed', time: T + 1500, durationMs: 1500, ok: false },
];

/** A build that succeeds and exports an image named app:1. */
const exportScript: ProgressEvent[] = [
  { type: 'build.started', time: T },
  { type: 'vertex.cached', time: T + 10, digest: d(1), name: '[1/2] FROM docker.io/library/a' },
  { type: 'vertex.cached', time: T + 10, digest: d(2), name: '[2/2] RUN make' },
  { type: 'task.started', time: T + 20, id: 'exporting-to-image', name: 'exporting to image' },
  {
    type: 'task.status',
    time: T + 140,
    id: 'exporting-to-image',
    status: 'exporting layers',
    durationMs: 120,
  },
  {
    type: 'task.status',
    time: T + 150,
    id: 'exporting-to-image',
    status: `writing image ${d(7)}`,
    durationMs: 10,
  },
  {
    type: 'task.status',
    time: T + 160,
    id: 'exporting-to-image',
    status: 'naming to docker.io/library/app:1',
    durationMs: 2,
  },
  {
    type: 'task.completed',
    time: T + 170,
    id: 'exporting-to-image',
    name: 'exporting to image',
    durationMs: 150,
  },
  { type: 'build.completed', time: T + 180, durationMs: 180, ok: true },
];

function fakeStream(tty = false): Writable & { text: string } {
  return {
    text: '',
    isTTY: tty,
    columns: 60,
    rows: 20,
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

async function play(mode: 'plain' | 'json' | 'tty' | 'quiet', options = {}): Promise<string> {
  const stream = fakeStream(mode === 'tty');
  const renderer = await openRenderer(mode, stream, options);
  for (const event of script) renderer.sink(event);
  renderer.close();
  return stream.text;
}

const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

describe('progress renderers', () => {
  it('plain output reads like BuildKit --progress=plain', async () => {
    expect(await play('plain')).toMatchInlineSnapshot(`
      "#1 resolve image config for alpine
      #1 DONE 0.0s

      #2 [base 1/3] FROM docker.io/library/alpine:3.20
      #2 CACHED

      #3 [internal] load build context
      #3 cache miss: this step is never cached; it always runs
      #3 transferring context 10/10 done
      #3 DONE 0.1s

      #4 [build 2/3] RUN make
      #4 cache miss: no cache record for key sha256:0123456789ab; input "[internal] load build context" changed
      #4 0.512 cc -o app main.c

      #5 [test 2/2] RUN false
      #5 0.100 boom

      #4 0.550 linking done

      #5 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1

      #4 CANCELED
      WARNING: FROM uses a tag, not a digest (line 1)
      "
    `);
  });

  it('plain output says why each step that ran missed the cache', async () => {
    expect(await play('plain')).toContain(
      '#4 cache miss: no cache record for key sha256:0123456789ab; input "[internal] load build context" changed',
    );
  });

  it('json output is exactly one event per line', async () => {
    const lines = (await play('json')).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(script);
    expect(lines[3]).toMatchInlineSnapshot(
      `"{"type":"vertex.cached","time":1700000000050,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","name":"[base 1/3] FROM docker.io/library/alpine:3.20"}"`,
    );
  });

  it('quiet output is only the failing step log, since nothing else was shown', async () => {
    expect(await play('quiet')).toBe('------\n > [test 2/2] RUN false:\n0.100 boom\n------\n');
    const stream = fakeStream();
    const ok = await openRenderer('quiet', stream);
    for (const event of exportScript) ok.sink(event);
    ok.close();
    expect(stream.text).toBe('');
  });

  it('the live view ends with the final summary and the failing step output', async () => {
    const text = stripAnsi(await play('tty', { color: false }));
    const finalFrame = text.slice(text.lastIndexOf('[+] Building'));
    expect(finalFrame).toMatchInlineSnapshot(`
      "[+] Building 1.5s (3/5) ERROR
       => resolve image config for alpine                    0.0s
       => CACHED [base 1/3] FROM docker.io/library/alpine:3… 0.0s
       => [internal] load build context                      0.1s
       => CANCELED [build 2/3] RUN make                      1.3s
       => ERROR [test 2/2] RUN false                         1.2s
      ------
       > [test 2/2] RUN false:
      0.100 boom
      ------
      1 warning found:
       - FROM uses a tag, not a digest (line 1)
      "
    `);
  });

  it('the live view redraws in place while a step runs', async () => {
    const stream = fakeStream(true);
    const renderer = await openRenderer('tty', stream, { color: false });
    const now = Date.now();
    renderer.sink({ type: 'vertex.started', time: now, digest: d(1), name: '[1/2] RUN sleep 1' });
    renderer.sink({
      type: 'vertex.log',
      time: now,
      digest: d(1),
      stream: 'stdout',
      data: 'tick\n',
    });
    await new Promise((r) => setTimeout(r, 250));
    renderer.sink({
      type: 'vertex.completed',
      time: now + 1,
      digest: d(1),
      name: '[1/2] RUN sleep 1',
      durationMs: 300,
    });
    renderer.close();
    const frames = stream.text.split('[+] Building');
    expect(frames.length).toBeGreaterThan(2);
    expect(stream.text).toMatch(/\x1b\[3A/);
    expect(stripAnsi(frames.at(-1)!)).toMatch(
      /\(1\/1\) FINISHED\n => \[1\/2\] RUN sleep 1 +0\.3s\n$/,
    );
  });

  it('shows the steps of the export: writing image and naming to', async () => {
    const stream = fakeStream();
    const plain = await openRenderer('plain', stream);
    for (const event of exportScript) plain.sink(event);
    plain.close();
    expect(stream.text).toMatchInlineSnapshot(`
      "#1 [1/2] FROM docker.io/library/a
      #1 CACHED

      #2 [2/2] RUN make
      #2 CACHED

      #3 exporting to image
      #3 exporting layers 0.1s done
      #3 writing image sha256:7777777777777777777777777777777777777777777777777777777777777777 done
      #3 naming to docker.io/library/app:1 done
      #3 DONE 0.1s
      "
    `);
    const tty = fakeStream(true);
    const live = await openRenderer('tty', tty, { color: false });
    for (const event of exportScript) live.sink(event);
    live.close();
    const text = stripAnsi(tty.text);
    expect(text.slice(text.lastIndexOf('[+] Building'))).toMatchInlineSnapshot(`
      "[+] Building 0.2s (3/3) FINISHED
       => CACHED [1/2] FROM docker.io/library/a              0.0s
       => CACHED [2/2] RUN make                              0.0s
       => exporting to image                                 0.1s
       => => exporting layers                                0.1s
       => => writing image sha256:7777777777777777777777777… 0.0s
       => => naming to docker.io/library/app:1               0.0s
      "
    `);
  });

  it('cuts a non-ASCII line early, never too wide, until string-width has loaded', async () => {
    vi.resetModules(); // a fresh view module: string-width not loaded yet
    const { createTtyRenderer } = await import('./tty.ts');
    const stream = fakeStream(true);
    const renderer = await createTtyRenderer(stream, { color: false });
    const name = '[1/1] RUN echo café naïve résumé and a long tail of words to cut';
    renderer.sink({ type: 'vertex.started', time: T, digest: d(1), name });
    renderer.sink({ type: 'vertex.completed', time: T + 100, digest: d(1), name, durationMs: 100 });
    renderer.close();
    const text = stripAnsi(stream.text);
    const [line] = text.slice(text.lastIndexOf('[+] Building')).trimEnd().split('\n').slice(1);
    // Each é, ï counts two columns here: the line is cut sooner, the time still fits.
    expect(stringWidth(line!)).toBeLessThanOrEqual(59);
    expect(line).toContain('café');
    expect(line).toContain('…');
    expect(line!.endsWith(' 0.1s')).toBe(true);
  });

  it('fits wide characters to the terminal by their screen width', async () => {
    await loadColumnWidths(); // as the view does on its first non-ASCII line
    const stream = fakeStream(true);
    const renderer = await openRenderer('tty', stream, { color: false });
    const name = '[2/2] RUN echo 漢字のテスト😀😀😀 and a long tail of words to cut off';
    renderer.sink({ type: 'vertex.started', time: T, digest: d(1), name });
    renderer.sink({ type: 'vertex.completed', time: T + 100, digest: d(1), name, durationMs: 100 });
    renderer.sink({ type: 'vertex.started', time: T, digest: d(2), name: '[1/2] FROM 漢字' });
    renderer.sink({
      type: 'vertex.completed',
      time: T + 100,
      digest: d(2),
      name: '[1/2] FROM 漢字',
      durationMs: 100,
    });
    renderer.close();
    const text = stripAnsi(stream.text);
    const lines = text.slice(text.lastIndexOf('[+] Building')).trimEnd().split('\n').slice(1);
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      // One column short of the terminal (60), times right-aligned in the same column.
      expect(stringWidth(line)).toBe(59);
      expect(line.endsWith(' 0.1s')).toBe(true);
    }
    expect(lines[0]).toContain('漢字のテスト😀');
    expect(lines[0]).toContain('…');
  });

  it('measures combining marks and narrow accents exactly once string-width is in', async () => {
    await loadColumnWidths();
    const stream = fakeStream(true);
    const renderer = await openRenderer('tty', stream, { color: false });
    const name = '[1/1] RUN echo cafe\u0301 naïve résumé';
    renderer.sink({ type: 'vertex.started', time: T, digest: d(1), name });
    renderer.sink({ type: 'vertex.completed', time: T + 100, digest: d(1), name, durationMs: 100 });
    renderer.close();
    const text = stripAnsi(stream.text);
    const [line] = text.slice(text.lastIndexOf('[+] Building')).trimEnd().split('\n').slice(1);
    expect(line).toContain('résumé');
    expect(stringWidth(line!)).toBe(59); // padded to the full width: nothing counted twice
  });

  it('auto picks the live view only on a real terminal', () => {
    expect(resolveRendererMode('auto', { write: () => true, isTTY: true }, { TERM: 'xterm' })).toBe(
      'tty',
    );
    expect(resolveRendererMode('auto', { write: () => true, isTTY: true }, { TERM: 'dumb' })).toBe(
      'plain',
    );
    expect(resolveRendererMode('auto', { write: () => true }, {})).toBe('plain');
    expect(resolveRendererMode('json', { write: () => true, isTTY: true }, {})).toBe('json');
  });
});
