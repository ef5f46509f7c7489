import { describe, expect, it } from 'vitest';
import type { Index } from '../shared/oci.ts';
import { listPlatforms, matchesPlatform, selectPlatformManifest } from './platform-select.ts';

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}` as const;
const index: Index = {
  schemaVersion: 2,
  manifests: [
    {
      mediaType: 'm',
      digest: digest(1),
      size: 1,
      platform: { os: 'linux', architecture: 'amd64' },
    },
    {
      mediaType: 'm',
      digest: digest(2),
      size: 1,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    },
    {
      mediaType: 'm',
      digest: digest(3),
      size: 1,
      platform: { os: 'linux', architecture: 'arm', variant: 'v6' },
    },
    {
      mediaType: 'm',
      digest: digest(4),
      size: 1,
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    },
    {
      mediaType: 'm',
      digest: digest(5),
      size: 1,
      platform: { os: 'unknown', architecture: 'unknown' },
    },
  ],
};

describe('platform selection from an index', () => {
  it.each([
    [{ os: 'linux', architecture: 'amd64' }, digest(1)],
    [{ os: 'linux', architecture: 'arm64' }, digest(2)],
    [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, digest(2)],
    [{ os: 'linux', architecture: 'arm' }, digest(4)],
    [{ os: 'linux', architecture: 'arm', variant: 'v6' }, digest(3)],
    [{ os: 'linux', architecture: 's390x' }, undefined],
    [{ os: 'windows', architecture: 'amd64' }, undefined],
  ])('picks the manifest for %j', (platform, expected) => {
    expect(selectPlatformManifest(index, platform)?.digest).toBe(expected);
  });

  it('treats arm64 and arm64/v8, aarch64 and x86_64 as the same platforms', () => {
    expect(
      matchesPlatform(
        { os: 'linux', architecture: 'aarch64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ),
    ).toBe(true);
    expect(
      matchesPlatform(
        { os: 'linux', architecture: 'x86_64' },
        { os: 'linux', architecture: 'amd64' },
      ),
    ).toBe(true);
    expect(
      matchesPlatform(
        { os: 'linux', architecture: 'arm', variant: 'v6' },
        { os: 'linux', architecture: 'arm' },
      ),
    ).toBe(false);
  });

  it('lists what an index offers without attestation entries', () => {
    expect(listPlatforms(index)).toEqual([
      'linux/amd64',
      'linux/arm64/v8',
      'linux/arm/v6',
      'linux/arm/v7',
    ]);
  });
});
