import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.ts';
import {
  formatPlatform,
  hostPlatform,
  parsePlatform,
  parseTargetPlatform,
  parseTargetPlatforms,
} from './platform.ts';

describe('parsePlatform', () => {
  // What Docker 28.5 writes into the image config for each --platform value.
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['LINUX/AMD64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['x86_64', 'linux/amd64'],
    ['linux/amd64/v2', 'linux/amd64/v2'],
    ['linux/arm64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['aarch64', 'linux/arm64'],
    ['linux/aarch64', 'linux/arm64'],
    ['arm64', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['armhf', 'linux/arm/v7'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['linux', formatPlatform(hostPlatform())],
    ['linux/riscv64', 'linux/riscv64'],
  ])('reads %s as %s', (text, expected) => {
    expect(formatPlatform(parsePlatform(text))).toBe(expected);
  });

  it('takes an architecture it does not know, as containerd does', () => {
    expect(parsePlatform('linux/bogus')).toEqual({ os: 'linux', architecture: 'bogus' });
  });

  it.each([
    ['foo', 'unknown operating system or architecture'],
    ['', 'empty'],
    ['linux/', 'invalid component'],
    ['/amd64', 'invalid OS component'],
    ['linux/amd64/v8/x', 'cannot parse platform specifier'],
    ['linux/am d64', 'invalid component'],
    ['linux/*', 'wildcards'],
  ])('refuses %j as a usage error', (text, message) => {
    let error: unknown;
    try {
      parsePlatform(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(125);
    expect((error as UsageError).message).toContain(message);
    expect((error as UsageError).hint).toContain('linux/amd64');
  });

  it('builds for Linux only', () => {
    expect(() => parseTargetPlatform('windows/amd64')).toThrow(/Linux images only/);
    expect(parseTargetPlatform('aarch64')).toEqual({ os: 'linux', architecture: 'arm64' });
  });
});

describe('parseTargetPlatforms', () => {
  it('reads a comma-separated list, each entry normalised', () => {
    expect(parseTargetPlatforms('linux/amd64, aarch64,linux/armhf').map(formatPlatform)).toEqual([
      'linux/amd64',
      'linux/arm64',
      'linux/arm/v7',
    ]);
  });

  it.each([
    ['linux/amd64,', 'an empty platform (entry 2 of 2)'],
    [',linux/amd64', 'an empty platform (entry 1 of 2)'],
    ['amd64,linux', '"amd64" and "linux" are both linux/amd64'],
    ['linux/arm64,linux/arm64/v8', 'are both linux/arm64'],
    ['linux/nosucharch', 'unknown architecture "nosucharch"'],
    ['linux/amd64,linux/nosucharch', 'unknown architecture "nosucharch"'],
    ['windows/amd64', 'Linux images only'],
    ['linux/amd64,windows/amd64', 'Linux images only'],
  ])('refuses %j as a usage error saying why', (text, message) => {
    let error: unknown;
    try {
      parseTargetPlatforms(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(125);
    expect((error as UsageError).message).toContain(message);
  });
});
