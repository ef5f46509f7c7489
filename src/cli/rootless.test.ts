import { describe, expect, it } from 'vitest';
import { needsUserNamespace } from './rootless.ts';

describe('which invocations run in a user namespace', () => {
  it('builds and store commands of an ordinary user do', () => {
    expect(needsUserNamespace(['build', '.'], 1000, {})).toBe(true);
    expect(needsUserNamespace(['.'], 1000, {})).toBe(true);
    expect(needsUserNamespace(['images'], 1000, {})).toBe(true);
    expect(needsUserNamespace(['unshare', 'rm', '-rf', 'x'], 1000, {})).toBe(true);
  });

  it('root, a process already inside, help and commands without a store do not', () => {
    expect(needsUserNamespace(['build', '.'], 0, {})).toBe(false);
    expect(needsUserNamespace(['build', '.'], 1000, { TBUILD_ROOTLESS: '1' })).toBe(false);
    for (const argv of [['doctor'], ['version'], ['login', 'x'], ['parse'], ['build', '--help']])
      expect(needsUserNamespace(argv, 1000, {})).toBe(false);
    expect(needsUserNamespace([], 1000, {})).toBe(false);
  });
});
