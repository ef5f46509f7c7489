import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from './errors.ts';
import {
  familiarName,
  formatReference,
  normalizeImageName,
  parseReference,
  registryApiHost,
} from './reference.ts';

const D = `sha256:${'a'.repeat(64)}` as const;

describe('parseReference', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' }],
    ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', tag: 'latest' }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    [
      'index.docker.io/library/nginx',
      { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
    ],
    ['localhost:5000/a/b:1', { registry: 'localhost:5000', repository: 'a/b', tag: '1' }],
    ['localhost/a', { registry: 'localhost', repository: 'a', tag: 'latest' }],
    ['ghcr.io/owner/app', { registry: 'ghcr.io', repository: 'owner/app', tag: 'latest' }],
    ['[::1]:5000/app:v2', { registry: '[::1]:5000', repository: 'app', tag: 'v2' }],
    [`x@${D}`, { registry: 'docker.io', repository: 'library/x', digest: D }],
    [`x:tag@${D}`, { registry: 'docker.io', repository: 'library/x', tag: 'tag', digest: D }],
    [
      'a/b__c/d-e.f:TAG_1.0-x',
      { registry: 'docker.io', repository: 'a/b__c/d-e.f', tag: 'TAG_1.0-x' },
    ],
  ])('parses %s', (text, expected) => {
    expect(parseReference(text)).toStrictEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['Nginx', 'lowercase'],
    ['docker.io/Library/nginx', 'lowercase'],
    ['nginx:', 'not a valid tag'],
    ['nginx:-x', 'not a valid tag'],
    ['nginx@sha256:abc', 'not a sha256 digest'],
    ['a//b', 'not a valid path component'],
    ['a/-b', 'not a valid path component'],
    ['my image', 'whitespace'],
    ['a'.repeat(64), '64-character hex'],
    ['localhost:5000/', 'empty'],
    [`x/${'a'.repeat(260)}`, 'longer than 255'],
  ])('rejects %j (%s) with a typed error and a hint', (text, reason) => {
    const error = (() => {
      try {
        parseReference(text);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidReferenceError);
    expect((error as InvalidReferenceError).message).toContain(reason);
    expect((error as InvalidReferenceError).hint).toContain('nginx:1.27');
  });
});

describe('reference formatting', () => {
  it('normalises names to the full form the store keys images by', () => {
    expect(normalizeImageName('nginx')).toBe('docker.io/library/nginx:latest');
    expect(normalizeImageName('localhost:5000/a:1')).toBe('localhost:5000/a:1');
    expect(normalizeImageName(`x:tag@${D}`)).toBe(`docker.io/library/x:tag@${D}`);
    expect(formatReference({ registry: 'ghcr.io', repository: 'o/a', digest: D })).toBe(
      `ghcr.io/o/a@${D}`,
    );
  });

  it('shows familiar names for display', () => {
    expect(familiarName('docker.io/library/nginx:latest')).toBe('nginx:latest');
    expect(familiarName('bitnami/redis:7')).toBe('bitnami/redis:7');
    expect(familiarName('localhost:5000/a/b:1')).toBe('localhost:5000/a/b:1');
    expect(familiarName(`nginx@${D}`)).toBe(`nginx@${D}`);
  });

  it('talks to registry-1.docker.io for Docker Hub', () => {
    expect(registryApiHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryApiHost('localhost:5000')).toBe('localhost:5000');
  });
});
