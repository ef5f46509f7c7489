import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from './www-authenticate.ts';

describe('parseWwwAuthenticate', () => {
  it('reads a Docker Hub bearer challenge', () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/nginx:pull',
        },
      },
    ]);
  });

  it('keeps commas inside quoted values and reads error params', () => {
    const [c] = parseWwwAuthenticate(
      'Bearer realm="http://127.0.0.1:1/token", service="svc", scope="repository:a/b:pull,push", error="insufficient_scope"',
    );
    expect(c?.params.scope).toBe('repository:a/b:pull,push');
    expect(c?.params.error).toBe('insufficient_scope');
  });

  it('separates several challenges and unquoted params', () => {
    expect(
      parseWwwAuthenticate('Basic realm="Registry Realm", Bearer realm=https://x/token,service=x'),
    ).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'x' } },
    ]);
  });

  it('unescapes quoted characters and tolerates an empty header', () => {
    expect(parseWwwAuthenticate('Basic realm="a \\"quoted\\" realm"')[0]?.params.realm).toBe(
      'a "quoted" realm',
    );
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});
