import { describe, expect, it } from 'vitest';
import type { SnapshotInfo } from '../cache/types.ts';
import type { ImageConfig } from '../shared/oci.ts';
import { normalizeHistory, timesFromLayers } from './commit-image.ts';

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

describe('normalizeHistory', () => {
  const base: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
  };
  const layers = [
    { ...snap(1, Date.parse('2024-01-01T00:00:00Z')), description: 'pulled base' },
    { ...snap(2, Date.parse('2026-11-20T10:00:00Z')), description: 'RUN make' },
  ];

  it('gives a base image without history one entry per layer, as BuildKit does', () => {
    const out = normalizeHistory(base, layers);
    expect(out.history).toEqual([
      {
        created: '2024-01-01T00:00:00.000Z',
        created_by: 'pulled base',
        comment: 'buildkit.exporter.image.v0',
      },
      {
        created: '2026-11-20T10:00:00.000Z',
        created_by: 'RUN make',
        comment: 'buildkit.exporter.image.v0',
      },
    ]);
  });

  it('appends entries for the layers a short history does not account for', () => {
    const config = { ...base, history: [{ created_by: 'RUN make # buildkit' }] };
    const out = normalizeHistory(config, layers);
    expect(out.history!.map((h) => h.created_by)).toEqual(['RUN make # buildkit', 'RUN make']);
  });

  it('marks surplus non-empty entries empty past the last layer', () => {
    const config = {
      ...base,
      history: [{ created_by: 'a' }, { created_by: 'b' }, { created_by: 'c' }],
    };
    const out = normalizeHistory(config, layers);
    expect(out.history!.map((h) => Boolean(h.empty_layer))).toEqual([false, false, true]);
  });

  it('leaves a history that matches its layers as it is', () => {
    const config = { ...base, history: [{ created_by: 'a' }, { created_by: 'b' }] };
    expect(normalizeHistory(config, layers)).toBe(config);
  });
});
