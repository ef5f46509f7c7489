/** Local build context: scanning with .dockerignore, content digests, checksums of selections. */
export { scanContext } from './scan.ts';
export { checksumPaths } from './checksum.ts';
export { StatCache } from './stat-cache.ts';
export type { StatKey } from './stat-cache.ts';
export { ContextNotFoundError, ContextReadError } from './errors.ts';
export type { ContextFile, ContextFileType, ContextSnapshot, ScanStats } from './types.ts';
