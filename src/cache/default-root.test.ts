import { describe, expect, it } from 'vitest';
import { defaultStoreRoot } from './default-root.ts';

describe('default store root', () => {
  it('prefers TBUILD_ROOT', () => {
    expect(defaultStoreRoot({ TBUILD_ROOT: '/srv/tbuild', XDG_DATA_HOME: '/x' })).toBe(
      '/srv/tbuild',
    );
  });

  it('uses /var/lib/tbuild for root, else the XDG data directory', () => {
    const expected =
      process.getuid?.() === 0
        ? ['/var/lib/tbuild', '/var/lib/tbuild']
        : ['/x/tbuild', '/home/u/.local/share/tbuild'];
    expect(defaultStoreRoot({ XDG_DATA_HOME: '/x' })).toBe(expected[0]);
    expect(defaultStoreRoot({ HOME: '/home/u' })).toBe(expected[1]);
  });
});

describe('default store root of a rootless build', () => {
  it("is the user's XDG data directory, though the build is uid 0 in its user namespace", () => {
    expect(defaultStoreRoot({ TBUILD_ROOTLESS: '1', HOME: '/home/u' })).toBe(
      '/home/u/.local/share/tbuild',
    );
    expect(defaultStoreRoot({ TBUILD_ROOTLESS: '1', XDG_DATA_HOME: '/x' })).toBe('/x/tbuild');
  });
});
