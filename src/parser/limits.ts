/**
 * Bounds on what a Dockerfile can make tbuild hold in memory (issue 14, item 4): a
 * hostile file such as `ARG A1=${A0}${A0}` … 30 levels deep would otherwise expand to
 * gigabytes. docs/dev/limits.md lists them.
 */

/** Largest Dockerfile tbuild reads (bytes of UTF-8). */
export const MAX_DOCKERFILE_BYTES = 4 * 1024 * 1024;
/** Largest result of expanding one word (characters). */
export const MAX_EXPANDED_WORD = 1024 * 1024;
/** Largest sum of all expansion results of one build's Dockerfile (characters). */
export const MAX_TOTAL_EXPANSION = 64 * 1024 * 1024;

/** What is left of a Dockerfile's total expansion; shared by every expansion of one build. */
export interface ExpansionBudget {
  remaining: number;
  readonly total: number;
}

export function createExpansionBudget(total = MAX_TOTAL_EXPANSION): ExpansionBudget {
  return { remaining: total, total };
}
