import { describe, expect, it } from 'vitest';
import type { SnapshotInfo } from '../cache/types.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { timesFromLayers } from './commit-image.ts';

const snap = (id: number, createdAt: number): SnapshotInfo => ({
  id,
  parent: id - 1 || null,
  dir: `/s/${id}`,
  workDir: `/s/${id}-work`,
  committed: true,
  createdAt,
  lastUsedAt: createdAt,
});

describe('timesFromLayers', () => {
  it('stamps entries of this build with their layer times, keeping the base image history', () => {
    const build = '2026-11-23T15:00:00.000Z';
    const config: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      created: build,
      config: {},
      rootfs: { type: 'layers', diff_ids: [] },
      history: [
        { created: '2020-01-01T00:00:00Z', created_by: 'base' },
        { created: build, created_by: 'ENV A=1', empty_layer: true },
        { created: build, created_by: 'RUN make # buildkit' },
        { created: build, created_by: 'CMD ["x"]', empty_layer: true },
      ],
    };
    const layers = [
      snap(1, Date.parse('2020-01-02T00:00:00Z')),
      snap(2, Date.parse('2026-11-20T10:00:00Z')),
    ];
    const out = timesFromLayers(config, layers);
    expect(out.history!.map((h) => h.created)).toEqual([
      '2020-01-01T00:00:00Z',
      '2020-01-02T00:00:00.000Z',
      '2026-11-20T10:00:00.000Z',
      '2026-11-20T10:00:00.000Z',
    ]);
    expect(out.created).toBe('2026-11-20T10:00:00.000Z');
  });
});
