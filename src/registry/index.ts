/**
 * The registry module's public surface: import from here (lazily in the CLI).
 */
export { createRegistryClient, MANIFEST_ACCEPT } from './client.ts';
export {
  createDockerConfigCredentials,
  configKeyFor,
  decodeAuthEntry,
  loadCredentialStore,
  normalizeServerAddress,
} from './credentials.ts';
export type { CredentialStore, Credentials, DockerConfigCredentialStore } from './credentials.ts';
export * from './errors.ts';
export {
  DOCKER_HUB,
  DOCKER_HUB_API_HOST,
  familiarName,
  formatReference,
  normalizeImageName,
  parseReference,
  registryApiHost,
  repositoryName,
} from './reference.ts';
export type { ImageReference } from './reference.ts';
export { matchesPlatform, normalizePlatform, selectPlatformManifest } from './platform-select.ts';
export { isLoopbackHost } from './transport.ts';
export { parseWwwAuthenticate } from './www-authenticate.ts';
export type { AuthChallenge } from './www-authenticate.ts';
export type * from './types.ts';
