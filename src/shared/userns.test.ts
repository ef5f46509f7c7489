import { describe, expect, it } from 'vitest';
import { inUserNamespace, isMapped, overlayOpaqueXattr, parseIdMap } from './userns.ts';

describe('user namespace detection', () => {
  it('parses uid_map lines', () => {
    const map = parseIdMap('         0       1001          1\n         1     100000      65536\n');
    expect(map).toEqual([
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
    ]);
    expect(isMapped(map, 5)).toBe(true);
    expect(isMapped(map, 65537)).toBe(false);
  });

  it('follows TBUILD_ROOTLESS, and names the overlay attributes of the namespace', () => {
    expect(inUserNamespace({ TBUILD_ROOTLESS: '1' })).toBe(true);
    expect(inUserNamespace({ TBUILD_ROOTLESS: '0' })).toBe(false);
    expect(overlayOpaqueXattr({ TBUILD_ROOTLESS: '1' })).toBe('user.overlay.opaque');
    expect(overlayOpaqueXattr({ TBUILD_ROOTLESS: '0' })).toBe('trusted.overlay.opaque');
  });
});
