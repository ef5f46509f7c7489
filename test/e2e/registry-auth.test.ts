import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDockerConfigCredentials,
  createRegistryClient,
  RegistryUnauthorizedError,
} from '../../src/registry/index.ts';
import type { CredentialStore, RegistryClient } from '../../src/registry/index.ts';
import { makeTestImage, startRegistry } from '../helpers/registry.ts';
import type { TestImage, TestRegistry } from '../helpers/registry.ts';

async function push(client: RegistryClient, repo: string, image: TestImage, mountFrom?: string) {
  const outcomes = [];
  for (const [digest, bytes] of [
    [image.layerDigest, image.layer],
    [image.configDigest, image.config],
  ] as const) {
    outcomes.push(
      await client.uploadBlob(
        repo,
        digest,
        bytes.length,
        () => Readable.from([bytes]),
        mountFrom ? { mountFrom } : {},
      ),
    );
  }
  await client.putManifest(
    `${repo}:1`,
    image.manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  return outcomes;
}

function staticCredentials(username: string, password: string): CredentialStore {
  return { get: async () => ({ username, password }) };
}

let dir: string;
let image: TestImage;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-auth-'));
  image = await makeTestImage({ 'secret.txt': 'only for logged-in users\n' });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a registry with token authentication', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes and pulls with a token fetched once per scope', async () => {
    const client = createRegistryClient({ credentials: staticCredentials('tbuild', 'secret') });
    try {
      expect(await push(client, `${registry.host}/team/app`, image)).toEqual([
        'uploaded',
        'uploaded',
      ]);
      const pushTokens = registry.tokenServer!.requests.length;
      expect(pushTokens).toBeLessThanOrEqual(2);
      const resolved = await client.resolve(`${registry.host}/team/app:1`, {
        os: 'linux',
        architecture: 'amd64',
      });
      expect(resolved.digest).toBe(image.manifestDigest);
      expect(registry.tokenServer!.requests.every((r) => r.account === 'tbuild')).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('asks for pull on the source repository when mounting across repositories', async () => {
    const client = createRegistryClient({ credentials: staticCredentials('tbuild', 'secret') });
    try {
      const outcomes = await push(
        client,
        `${registry.host}/team/copy`,
        image,
        `${registry.host}/team/app`,
      );
      expect(outcomes).toEqual(['mounted', 'mounted']);
      const scopes = registry.tokenServer!.requests.flatMap((r) => r.scopes);
      expect(scopes).toContain('repository:team/app:pull');
      expect(scopes).toContain('repository:team/copy:pull,push');
    } finally {
      await client.close();
    }
  });

  it('rejects a wrong password with a typed error that says to log in', async () => {
    const client = createRegistryClient({ credentials: staticCredentials('tbuild', 'wrong') });
    try {
      const error = await client
        .getManifest(`${registry.host}/team/app:1`)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistryUnauthorizedError);
      expect((error as RegistryUnauthorizedError).hint).toContain(`tbuild login ${registry.host}`);
      await expect(
        client.checkLogin(registry.host, { username: 'tbuild', password: 'nope' }),
      ).rejects.toThrow(RegistryUnauthorizedError);
      await expect(
        client.checkLogin(registry.host, { username: 'tbuild', password: 'secret' }),
      ).resolves.toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('refuses anonymous pulls of a private repository', async () => {
    const client = createRegistryClient();
    try {
      await expect(client.getManifest(`${registry.host}/team/app:1`)).rejects.toThrow(
        RegistryUnauthorizedError,
      );
    } finally {
      await client.close();
    }
  });

  it('reads credentials from a Docker config file (auth and identitytoken)', async () => {
    const configDir = join(dir, 'docker-config');
    const credentials = createDockerConfigCredentials({ configDir });
    await credentials.store(registry.host, { username: 'tbuild', password: 'secret' });
    const client = createRegistryClient({ credentials });
    try {
      expect((await client.getManifest(`${registry.host}/team/app:1`)).digest).toBe(
        image.manifestDigest,
      );
    } finally {
      await client.close();
    }
    const tokenDir = join(dir, 'docker-config-token');
    await mkdir(tokenDir);
    await writeFile(
      join(tokenDir, 'config.json'),
      JSON.stringify({
        auths: {
          [registry.host]: { identitytoken: registry.tokenServer!.identityTokenFor('tbuild') },
        },
      }),
    );
    const viaToken = createRegistryClient({
      credentials: createDockerConfigCredentials({ configDir: tokenDir }),
    });
    try {
      expect((await viaToken.getManifest(`${registry.host}/team/app:1`)).digest).toBe(
        image.manifestDigest,
      );
      expect(registry.tokenServer!.requests.at(-1)).toMatchObject({
        method: 'POST',
        account: 'tbuild',
      });
    } finally {
      await viaToken.close();
    }
  });

  it('gets credentials from a docker-credential helper on PATH', async () => {
    const binDir = join(dir, 'bin');
    await mkdir(binDir, { recursive: true });
    const script = join(binDir, 'docker-credential-test');
    await writeFile(
      script,
      [
        '#!/bin/sh',
        'read server',
        `if [ "$1" = get ] && [ "$server" = "${registry.host}" ]; then`,
        `  printf '{"ServerURL":"%s","Username":"tbuild","Secret":"secret"}' "$server"`,
        'else echo "credentials not found in native keychain"; exit 1; fi',
        '',
      ].join('\n'),
    );
    await chmod(script, 0o755);
    const configDir = join(dir, 'helper-config');
    await mkdir(configDir);
    await writeFile(
      join(configDir, 'config.json'),
      JSON.stringify({ credHelpers: { [registry.host]: 'test' } }),
    );
    const credentials = createDockerConfigCredentials({
      configDir,
      env: { ...process.env, PATH: `${binDir}:${process.env.PATH}` },
    });
    expect(await credentials.get('other.example:5000')).toBeUndefined();
    const client = createRegistryClient({ credentials });
    try {
      expect((await client.getManifest(`${registry.host}/team/app:1`)).digest).toBe(
        image.manifestDigest,
      );
    } finally {
      await client.close();
    }
  });
});

describe('a registry with htpasswd (basic) authentication', () => {
  let registry: TestRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('pushes and pulls with basic credentials and refuses a wrong password', async () => {
    const client = createRegistryClient({ credentials: staticCredentials('tbuild', 'secret') });
    try {
      await push(client, `${registry.host}/basic/app`, image);
      expect((await client.getManifest(`${registry.host}/basic/app:1`)).digest).toBe(
        image.manifestDigest,
      );
    } finally {
      await client.close();
    }
    const wrong = createRegistryClient({ credentials: staticCredentials('tbuild', 'wrong') });
    try {
      await expect(wrong.getManifest(`${registry.host}/basic/app:1`)).rejects.toThrow(
        RegistryUnauthorizedError,
      );
    } finally {
      await wrong.close();
    }
  });
});
