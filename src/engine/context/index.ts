/** Local build context: scanning with .dockerignore, content digests, checksums of selections. */
export { scanContext, diskReader } from './scan.ts';
export type { EntryStat, ScanOptions, TreeReader } from './scan.ts';
export { checksumPaths } from './checksum.ts';
export { StatCache } from './stat-cache.ts';
export type { StatKey } from './stat-cache.ts';
export { startListing, listingReader } from './listing.ts';
export type { Listing } from './listing.ts';
export { openContextCache } from './local-context.ts';
export type { ContextCache, ContextChanges, LocalContext } from './local-context.ts';
export { ContextNotFoundError, ContextReadError } from './errors.ts';
export type { ContextFile, ContextFileType, ContextSnapshot, ScanStats } from './types.ts';
