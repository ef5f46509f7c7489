import { describe, expect, it } from 'vitest';
import { applyMode, createdDirMode } from './mode.ts';

describe('createdDirMode', () => {
  it('gives created destination directories a numeric --chmod through the 022 umask', () => {
    expect(createdDirMode(0o700)).toBe(0o700);
    expect(createdDirMode(0o770)).toBe(0o750);
    expect(createdDirMode('0640')).toBe(0o640);
    expect(createdDirMode(0o4777)).toBe(0o755);
  });

  it('keeps 0755 without --chmod or with a symbolic one', () => {
    expect(createdDirMode(undefined)).toBe(0o755);
    expect(createdDirMode('u+x,g=rx')).toBe(0o755);
  });
});

describe('applyMode', () => {
  it('applies symbolic clauses to the current mode', () => {
    expect(applyMode('u+x,g=rx', 0o644, false)).toBe(0o754);
  });
});
