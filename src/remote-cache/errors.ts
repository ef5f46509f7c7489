/** Errors of cache export and import (`--cache-to`, `--cache-from`). */
import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';

/** A cache was found but is not one tbuild can read (not JSON, broken layer links…). */
export class InvalidCacheError extends TbuildError {
  constructor(from: string, detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_CACHE_INVALID', `cache ${from}: ${detail}`, {
      hint: 'Export it again with --cache-to, or leave this --cache-from out.',
      ...options,
    });
  }
}

/** Exporting the cache failed (and `ignore-error=true` was not given). */
export class CacheExportError extends TbuildError {
  constructor(to: string, cause: unknown) {
    super('TBUILD_CACHE_EXPORT', `exporting cache to ${to}: ${messageOf(cause)}`, {
      cause,
      hint: 'Check that the destination is reachable and writable, or add ignore-error=true to --cache-to to go on without it.',
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
