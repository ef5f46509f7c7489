import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDockerConfigCredentials, normalizeServerAddress } from './credentials.ts';
import { CredentialsError } from './errors.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const writeConfig = (config: unknown) =>
  writeFile(join(dir, 'config.json'), JSON.stringify(config));

describe('Docker config credentials', () => {
  it('reads auth, username/password and identitytoken entries under any key spelling', async () => {
    await writeConfig({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub:pa:ss') },
        'http://localhost:5000/v2/': { username: 'u', password: 'p' },
        'ghcr.io': { identitytoken: 'refresh-me' },
      },
    });
    const creds = createDockerConfigCredentials({ configDir: dir });
    expect(await creds.get('docker.io')).toEqual({ username: 'hub', password: 'pa:ss' });
    expect(await creds.get('localhost:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await creds.get('ghcr.io')).toEqual({ identityToken: 'refresh-me' });
    expect(await creds.get('quay.io')).toBeUndefined();
  });

  it('uses $DOCKER_CONFIG and treats a missing file as no credentials', async () => {
    const creds = createDockerConfigCredentials({ env: { DOCKER_CONFIG: join(dir, 'absent') } });
    expect(creds.configPath).toBe(join(dir, 'absent', 'config.json'));
    expect(await creds.get('docker.io')).toBeUndefined();
  });

  it('stores a login as base64 auth with private permissions, keeps other settings, and erases it', async () => {
    await writeConfig({ auths: { 'quay.io': { auth: b64('q:q') } }, psFormat: 'table' });
    const creds = createDockerConfigCredentials({ configDir: dir });
    expect(await creds.store('docker.io', { username: 'me', password: 'pw' })).toEqual({});
    const saved = JSON.parse(await readFile(creds.configPath, 'utf8')) as Record<string, unknown>;
    expect(saved).toEqual({
      auths: {
        'quay.io': { auth: b64('q:q') },
        'https://index.docker.io/v1/': { auth: b64('me:pw') },
      },
      psFormat: 'table',
    });
    expect((await stat(creds.configPath)).mode & 0o777).toBe(0o600);
    expect(await creds.erase('docker.io')).toBe(true);
    expect(await creds.erase('docker.io')).toBe(false);
    expect(await creds.get('docker.io')).toBeUndefined();
    expect(await creds.get('quay.io')).toEqual({ username: 'q', password: 'q' });
  });

  it('stores, reads and erases through the configured credsStore helper', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const db = join(dir, 'helper-db');
    // A file-backed helper: store writes stdin, get prints it back, erase deletes it.
    const script = [
      '#!/bin/sh',
      `db=${db}`,
      'case "$1" in',
      '  store) cat > "$db" ;;',
      '  get) read s; if [ -f "$db" ]; then cat "$db"; else echo "credentials not found in native keychain"; exit 1; fi ;;',
      '  erase) rm -f "$db" ;;',
      'esac',
      '',
    ].join('\n');
    await writeFile(join(bin, 'docker-credential-filedb'), script);
    await chmod(join(bin, 'docker-credential-filedb'), 0o755);
    await writeConfig({ credsStore: 'filedb' });
    const creds = createDockerConfigCredentials({
      configDir: dir,
      env: { PATH: `${bin}:/usr/bin:/bin` },
    });
    expect(await creds.get('localhost:5000')).toBeUndefined();
    expect(await creds.store('localhost:5000', { username: 'u', password: 's3cret' })).toEqual({
      helper: 'filedb',
    });
    expect(await readFile(creds.configPath, 'utf8')).not.toContain('s3cret');
    expect(await creds.get('localhost:5000')).toEqual({ username: 'u', password: 's3cret' });
    expect(await creds.erase('localhost:5000')).toBe(true);
    expect(await creds.get('localhost:5000')).toBeUndefined();
  });

  it('names a missing helper and an unreadable config in typed errors', async () => {
    await writeConfig({ credHelpers: { 'ghcr.io': 'nosuchhelper' } });
    const creds = createDockerConfigCredentials({ configDir: dir, env: { PATH: '/nonexistent' } });
    const error = await creds.get('ghcr.io').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialsError);
    expect((error as CredentialsError).hint).toContain('docker-credential-nosuchhelper');
    await writeFile(join(dir, 'config.json'), '{not json');
    await expect(creds.get('ghcr.io')).rejects.toThrow(/not valid JSON/);
  });
});

describe('normalizeServerAddress', () => {
  it.each([
    [undefined, 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['http://localhost:5000/v2/', 'localhost:5000'],
    ['GHCR.io', 'ghcr.io'],
  ])('turns %j into %s', (input, expected) => {
    expect(normalizeServerAddress(input)).toBe(expected);
  });
});
