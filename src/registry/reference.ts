/**
 * Image references under Docker's naming rules (the grammar of distribution's
 * `reference` package): `[domain/]path[:tag][@digest]`, where a first path component
 * is a domain only if it has a `.` or `:`, is `localhost`, or has an upper-case letter.
 */
import { isDigest } from '../shared/digest.ts';
import type { Digest } from '../shared/digest.ts';
import { InvalidReferenceError } from './errors.ts';

export interface ImageReference {
  /** `docker.io`, `localhost:5000`, `ghcr.io`, … (the name people use, not the API host). */
  registry: string;
  /** `library/nginx`, `team/app`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
/** The host Docker Hub's distribution API is served from. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/** The key Docker Hub credentials live under in config.json. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const MAX_NAME_LENGTH = 255;

/**
 * Parse a reference as `docker pull` would: `nginx` → docker.io/library/nginx:latest.
 * A tag defaults to `latest` only when there is no digest. Throws InvalidReferenceError.
 */
export function parseReference(text: string): ImageReference {
  const fail = (reason: string): never => {
    throw new InvalidReferenceError(text, reason);
  };
  if (text === '') fail('the name is empty');
  if (/\s/.test(text)) fail('it contains whitespace');
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const d = rest.slice(at + 1);
    if (!isDigest(d))
      fail(`"${d}" is not a sha256 digest (sha256: followed by 64 lower-case hex digits)`);
    digest = d as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag))
      fail(
        `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`,
      );
  }
  const { registry, path } = splitDomain(rest, fail);
  if (path.length > MAX_NAME_LENGTH)
    fail(`the repository name is longer than ${MAX_NAME_LENGTH} characters`);
  if (/^[a-f0-9]{64}$/.test(path))
    fail('a repository name cannot be a 64-character hex string (did you mean @sha256:…?)');
  if (path !== path.toLowerCase()) fail('repository names must be lowercase');
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      fail(
        `"${component}" is not a valid path component (lower-case letters, digits and single separators . _ __ -)`,
      );
    }
  }
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  const ref: ImageReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined) ref.tag = 'latest';
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function splitDomain(
  name: string,
  fail: (reason: string) => never,
): { registry: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const isDomain =
    slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  if (!isDomain) return { registry: DOCKER_HUB, path: name };
  if (!DOMAIN.test(first)) fail(`"${first}" is not a valid registry host`);
  const registry = first === 'index.docker.io' ? DOCKER_HUB : first;
  const path = name.slice(slash + 1);
  if (path === '') fail('the repository name is empty');
  return { registry, path };
}

/** Full form: `docker.io/library/nginx:latest`, `localhost:5000/a@sha256:…`. */
export function formatReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** `nginx` → `docker.io/library/nginx:latest`: the one spelling the store keys images by. */
export function normalizeImageName(name: string): string {
  return formatReference(parseReference(name));
}

/** The short form people type and Docker prints: `nginx:latest`, `team/app:1`, `localhost:5000/a:1`. */
export function familiarName(ref: ImageReference | string): string {
  const r = typeof ref === 'string' ? parseReference(ref) : ref;
  let name = `${r.registry}/${r.repository}`;
  if (r.registry === DOCKER_HUB) {
    name =
      r.repository.startsWith('library/') && r.repository.split('/').length === 2
        ? r.repository.slice('library/'.length)
        : r.repository;
  }
  if (r.tag !== undefined) name += `:${r.tag}`;
  if (r.digest !== undefined) name += `@${r.digest}`;
  return name;
}

/** The host:port that serves the distribution API for a registry name. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** `docker.io/library/nginx` — the repository without tag or digest, for messages. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}
