import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { command as login } from '../../src/cli/commands/login.ts';
import { command as logout } from '../../src/cli/commands/logout.ts';
import { RegistryUnauthorizedError } from '../../src/registry/index.ts';
import { startRegistry } from '../helpers/registry.ts';
import type { TestRegistry } from '../helpers/registry.ts';

type Handler = (args: Record<string, unknown>) => Promise<void>;
const runLogin = (args: Record<string, unknown>) =>
  (login.handler as unknown as Handler)({ passwordStdin: false, insecureRegistry: [], ...args });
const runLogout = (args: Record<string, unknown>) => (logout.handler as unknown as Handler)(args);

describe('tbuild login and logout', () => {
  let registry: TestRegistry;
  let configDir: string;
  const savedDockerConfig = process.env.DOCKER_CONFIG;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    configDir = await mkdtemp(join(tmpdir(), 'tbuild-login-'));
    process.env.DOCKER_CONFIG = configDir;
  });
  afterAll(async () => {
    if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = savedDockerConfig;
    await registry?.stop();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it('checks the password with the registry before saving it, and logout removes it', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(
        runLogin({ server: registry.host, username: 'tbuild', password: 'wrong' }),
      ).rejects.toThrow(RegistryUnauthorizedError);
      await expect(readFile(join(configDir, 'config.json'), 'utf8')).rejects.toThrow(/ENOENT/);

      await runLogin({
        server: `http://${registry.host}/v2/`,
        username: 'tbuild',
        password: 'secret',
      });
      expect(out).toHaveBeenCalledWith('Login Succeeded\n');
      const config = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as {
        auths: Record<string, { auth: string }>;
      };
      expect(Buffer.from(config.auths[registry.host]!.auth, 'base64').toString()).toBe(
        'tbuild:secret',
      );

      await runLogout({ server: registry.host });
      expect(out).toHaveBeenCalledWith(`Removing login credentials for ${registry.host}\n`);
      const after = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as {
        auths: object;
      };
      expect(after.auths).toEqual({});
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  it('asks for a username and a password with hints', async () => {
    await expect(runLogin({ server: registry.host })).rejects.toThrow(/needs a username/);
    await expect(runLogin({ server: registry.host, username: 'tbuild' })).rejects.toThrow(
      /needs a password/,
    );
  });
});
