/** The store: content-addressed blobs, layer snapshots, the cache index and image references. */
export { openStore } from './store.ts';
export { isUnnamedImage } from './image-refs.ts';
export { defaultStoreRoot } from './default-root.ts';
export { formatBytes, parseBytes, parseDuration, formatAgo } from './units.ts';
export * from './errors.ts';
export type * from './types.ts';
