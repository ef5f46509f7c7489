/**
 * Why a vertex missed the cache, in one sentence (`vertex.cache-miss`, `--explain`).
 * The result cache only answers "is this key stored", so the explanation comes from what
 * the solve saw: an input that itself missed the cache has changed; with every input
 * cached, the step itself (or the files it selects) is what changed.
 */
import type { Digest } from '../shared/digest.ts';

export interface MissFacts {
  key: Digest;
  /** Why the cache was not asked at all, if it was not. */
  skipped?: 'uncacheable' | 'no-cache' | 'ignore-cache';
  /** Inputs whose own cache key was new in this solve (they executed), by name. */
  changedInputs: readonly string[];
  /** Inputs that enter the key through file content: name and selectors. */
  contentInputs: ReadonlyArray<{ name: string; selectors: readonly string[] }>;
}

const SKIPPED: Record<NonNullable<MissFacts['skipped']>, string> = {
  uncacheable: 'this step is never cached; it always runs',
  'no-cache': 'cache lookups are disabled (--no-cache)',
  'ignore-cache': 'cache lookups are disabled for this step (--no-cache-filter)',
};

/** One sentence for a person; starts with the key so `--explain` output can be grepped. */
export function explainMiss(facts: MissFacts): string {
  if (facts.skipped) return SKIPPED[facts.skipped];
  const head = `no cache record for key ${shortKey(facts.key)}`;
  if (facts.changedInputs.length > 0) {
    const names = facts.changedInputs.map((n) => `"${n}"`).join(', ');
    return `${head}; input ${names} changed`;
  }
  if (facts.contentInputs.length > 0) {
    const files = facts.contentInputs
      .map((c) => `${c.selectors.join(', ')} from "${c.name}"`)
      .join('; ');
    return `${head}; the files it reads changed (${files}), or the step itself is new`;
  }
  return `${head}; the step itself is new or its definition changed`;
}

function shortKey(key: Digest): string {
  return key.slice(0, 'sha256:'.length + 12);
}
