import { describe, expect, it } from 'vitest';
import { describeChoice, forcedSnapshotter } from './snapshotter.ts';

describe('snapshotter choice', () => {
  it('takes TBUILD_SNAPSHOTTER when it names one, and refuses other names', () => {
    expect(forcedSnapshotter({})).toBeUndefined();
    expect(forcedSnapshotter({ TBUILD_SNAPSHOTTER: 'copy' })).toBe('copy');
    expect(forcedSnapshotter({ TBUILD_SNAPSHOTTER: 'fuse-overlayfs' })).toBe('fuse-overlayfs');
    expect(() => forcedSnapshotter({ TBUILD_SNAPSHOTTER: 'vfs' })).toThrow(
      expect.objectContaining({ code: 'TBUILD_USAGE' }),
    );
  });

  it('says nothing for kernel overlayfs, and why otherwise', () => {
    expect(describeChoice({ name: 'overlay', forced: false, skipped: [] })).toBeUndefined();
    expect(describeChoice({ name: 'copy', forced: true, skipped: [] })).toMatch(
      /^storage: the copying snapshotter .*forced by TBUILD_SNAPSHOTTER$/,
    );
    const fallback = describeChoice({
      name: 'copy',
      forced: false,
      skipped: [
        { name: 'overlay', reason: 'overlay mount failed: permission denied' },
        { name: 'fuse-overlayfs', reason: 'fuse: device not found' },
      ],
    });
    expect(fallback).toContain('overlay: overlay mount failed: permission denied');
    expect(fallback).toContain('fuse-overlayfs: fuse: device not found');
    expect(fallback).toContain('tbuild doctor');
  });
});
