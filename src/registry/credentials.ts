/**
 * Registry credentials the way the Docker CLI keeps them: `$DOCKER_CONFIG/config.json`
 * (default `~/.docker/config.json`) with `auths` entries, a default `credsStore` and
 * per-registry `credHelpers`, which are `docker-credential-<name>` programs speaking
 * JSON on stdin/stdout (`get`, `store`, `erase`).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CredentialsError } from './errors.ts';
import { DOCKER_HUB, DOCKER_HUB_CONFIG_KEY } from './reference.ts';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token endpoint. */
  identityToken?: string;
}

/** Where the client asks for credentials; `registry` is the name people use (`docker.io`, `localhost:5000`). */
export interface CredentialStore {
  get(registry: string): Promise<Credentials | undefined>;
}

export interface DockerConfigCredentialStore extends CredentialStore {
  readonly configPath: string;
  /** Save credentials (through the configured helper if any); returns the helper used. */
  store(
    registry: string,
    credentials: { username: string; password: string },
  ): Promise<{ helper?: string }>;
  /** Forget credentials; true when something was removed. */
  erase(registry: string): Promise<boolean>;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [key: string]: unknown;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** The helper prints this (exit 1) when it has nothing for a server. */
const NOT_FOUND = /credentials not found/i;

/** The key a registry's credentials are stored under (Docker Hub keeps its historic v1 URL). */
export function configKeyFor(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : registry;
}

/** `https://localhost:5000/v2/` → `localhost:5000`; all Docker Hub spellings → docker.io. */
function hostOfKey(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]!
    .toLowerCase();
  return ['index.docker.io', 'registry-1.docker.io', 'docker.io'].includes(host)
    ? DOCKER_HUB
    : host;
}

/** Credentials from the Docker config; `configDir` defaults to $DOCKER_CONFIG or ~/.docker. */
export function createDockerConfigCredentials(
  options: { configDir?: string; env?: NodeJS.ProcessEnv } = {},
): DockerConfigCredentialStore {
  const env = options.env ?? process.env;
  const configDir = options.configDir ?? env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  const configPath = join(configDir, 'config.json');
  const helperEnv = env;

  const helperFor = (config: DockerConfigFile, registry: string): string | undefined => {
    const helpers = config.credHelpers ?? {};
    for (const [key, name] of Object.entries(helpers)) {
      if (hostOfKey(key) === hostOfKey(registry)) return name;
    }
    return config.credsStore || undefined;
  };

  return {
    configPath,
    async get(registry) {
      const config = await readConfig(configPath);
      const helper = helperFor(config, registry);
      if (helper) {
        const fromHelper = await getFromHelper(helper, configKeyFor(registry), helperEnv);
        if (fromHelper) return fromHelper;
      }
      const entry = findAuthEntry(config, registry);
      return entry ? decodeAuthEntry(entry, configPath) : undefined;
    },
    async store(registry, credentials) {
      const config = await readConfig(configPath);
      const key = configKeyFor(registry);
      const helper = helperFor(config, registry);
      const auths = (config.auths ??= {});
      for (const k of Object.keys(auths))
        if (k !== key && hostOfKey(k) === hostOfKey(registry)) delete auths[k];
      if (helper) {
        const payload = JSON.stringify({
          ServerURL: key,
          Username: credentials.username,
          Secret: credentials.password,
        });
        await runHelper(helper, 'store', payload, helperEnv);
        auths[key] = {}; // Docker leaves an empty entry so `docker info`-style listings show the login.
      } else {
        auths[key] = {
          auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'),
        };
      }
      await writeConfig(configPath, config);
      return helper ? { helper } : {};
    },
    async erase(registry) {
      const config = await readConfig(configPath);
      const helper = helperFor(config, registry);
      let removed = false;
      if (helper) {
        const result = await runHelper(helper, 'erase', configKeyFor(registry), helperEnv, true);
        removed = result.ok;
      }
      for (const k of Object.keys(config.auths ?? {})) {
        if (hostOfKey(k) === hostOfKey(registry)) {
          delete config.auths![k];
          removed = true;
        }
      }
      if (removed) await writeConfig(configPath, config);
      return removed;
    },
  };
}

async function readConfig(path: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CredentialsError(`cannot read Docker config ${path}`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as DockerConfigFile;
  } catch (error) {
    throw new CredentialsError(`Docker config ${path} is not valid JSON`, {
      hint: 'Fix or remove the file; `tbuild login` recreates it.',
      cause: error,
    });
  }
}

async function writeConfig(path: string, config: DockerConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(config, null, '\t') + '\n', { mode: 0o600 });
  await rename(temp, path);
}

function findAuthEntry(config: DockerConfigFile, registry: string): AuthEntry | undefined {
  const auths = config.auths ?? {};
  const exact = auths[configKeyFor(registry)];
  if (exact) return exact;
  for (const [key, entry] of Object.entries(auths))
    if (hostOfKey(key) === hostOfKey(registry)) return entry;
  return undefined;
}

/** Decode one `auths` entry; an empty entry (left by a helper login) gives undefined. */
export function decodeAuthEntry(
  entry: AuthEntry,
  configPath = 'config.json',
): Credentials | undefined {
  const out: Credentials = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) {
      throw new CredentialsError(`malformed "auth" value in ${configPath}`, {
        hint: 'It must be base64 of "username:password"; run `tbuild login` again.',
      });
    }
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  } else if (entry.username !== undefined) {
    out.username = entry.username;
    if (entry.password !== undefined) out.password = entry.password;
  }
  if (entry.identitytoken) out.identityToken = entry.identitytoken;
  return Object.keys(out).length > 0 ? out : undefined;
}

async function getFromHelper(
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  const result = await runHelper(helper, 'get', serverUrl, env, true);
  if (!result.ok) {
    if (NOT_FOUND.test(result.stdout) || NOT_FOUND.test(result.stderr)) return undefined;
    throw new CredentialsError(
      `docker-credential-${helper} get failed: ${(result.stderr || result.stdout).trim()}`,
      {
        hint: `Check the credential helper "${helper}" configured in your Docker config.`,
      },
    );
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(result.stdout) as { Username?: string; Secret?: string };
  } catch (error) {
    throw new CredentialsError(`docker-credential-${helper} printed something that is not JSON`, {
      cause: error,
    });
  }
  if (!parsed.Secret) return undefined;
  if (parsed.Username === '<token>') return { identityToken: parsed.Secret };
  return { username: parsed.Username ?? '', password: parsed.Secret };
}

interface HelperResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Run `docker-credential-<helper> <action>` with `input` on stdin. */
function runHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  env: NodeJS.ProcessEnv,
  tolerateExitCode = false,
): Promise<HelperResult> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        new CredentialsError(`cannot run credential helper ${program}: ${error.message}`, {
          hint:
            error.code === 'ENOENT'
              ? `Install ${program} on your PATH, or remove "${helper}" from credsStore/credHelpers in your Docker config.`
              : `Check that ${program} is executable.`,
          cause: error,
        }),
      );
    });
    child.on('close', (code) => {
      const result = { ok: code === 0, stdout, stderr };
      if (code === 0 || tolerateExitCode) resolve(result);
      else {
        reject(
          new CredentialsError(`${program} ${action} failed: ${(stderr || stdout).trim()}`, {
            hint: `Check the credential helper "${helper}" configured in your Docker config.`,
          }),
        );
      }
    });
    child.stdin.on('error', () => undefined); // a helper that exits early closes stdin; 'close' reports it
    child.stdin.end(input);
  });
}

/** The user's Docker credentials ($DOCKER_CONFIG or ~/.docker): what builds and pushes use. */
export async function loadCredentialStore(
  env: NodeJS.ProcessEnv = process.env,
): Promise<DockerConfigCredentialStore> {
  return createDockerConfigCredentials({ env });
}

/**
 * What `login`/`logout` were given → a registry name: `https://index.docker.io/v1/`,
 * `docker.io` or nothing → `docker.io`; `http://localhost:5000/v2/` → `localhost:5000`.
 */
export function normalizeServerAddress(server?: string): string {
  if (server === undefined || server.trim() === '') return DOCKER_HUB;
  return hostOfKey(server.trim());
}
