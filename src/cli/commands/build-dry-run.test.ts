import { describe, expect, it } from 'vitest';
import { lower } from '../../frontend/testing/lower.ts';
import { printDryRun } from './build-dry-run.ts';

const dockerfile =
  'FROM alpine:3.20 AS build\nWORKDIR /app\nCOPY . .\nRUN make\nFROM scratch\nCOPY --from=build /app/out /out\nCMD ["/out"]\n';

async function print(format: 'json' | 'text'): Promise<string> {
  let out = '';
  await printDryRun(await lower(dockerfile), format, (s) => (out += s));
  return out;
}

describe('printDryRun', () => {
  it('prints every vertex with digest, op, inputs and description as JSON', async () => {
    const json = JSON.parse(await print('json')) as {
      vertices: Array<{
        digest: string;
        op: { type: string };
        inputs: unknown[];
        description: string;
      }>;
      image: { config: { Cmd: string[] } };
    };
    expect(json.vertices.map((v) => v.description)).toEqual([
      '[build 1/4] FROM docker.io/library/alpine:3.20',
      '[build 2/4] WORKDIR /app',
      '[internal] load build context',
      '[build 3/4] COPY . .',
      '[build 4/4] RUN make',
      '[stage-1 1/1] COPY --from=build /app/out /out',
    ]);
    expect(json.vertices[0]!.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(json.image.config.Cmd).toEqual(['/out']);
  });

  it('prints a readable summary as text', async () => {
    const text = await print('text');
    expect(text).toContain('LLB graph: 6 vertices');
    expect(text).toContain('exec ["/bin/sh","-c","make"] cwd=/app');
    expect(text).toContain('file copy /app/out -> /out');
    expect(text).toContain('"Cmd": [');
  });
});
