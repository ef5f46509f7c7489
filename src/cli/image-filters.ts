/**
 * `tbuild images --filter` as `docker images` takes it: `dangling=true|false`,
 * `reference=PATTERN` (also the `REPOSITORY[:TAG]` argument), `before=IMAGE`,
 * `since=IMAGE`, `label=KEY` or `label=KEY=VALUE`. Values of one key are alternatives;
 * different keys must all match.
 */
import { closestMatch, UsageError } from '../shared/errors.ts';
import { matchGlob } from '../shared/path-match.ts';

/** What the filters look at in one listed image. */
export interface FilterableImage {
  /** Familiar repository (`app`, `localhost:5000/team/app`); undefined for `<none>`. */
  repository: string | undefined;
  tag: string | undefined;
  /** Config digest (the image ID). */
  id: string;
  created: number;
  labels: Readonly<Record<string, string>>;
}

const KEYS = ['dangling', 'reference', 'before', 'since', 'label'] as const;
type FilterKey = (typeof KEYS)[number];

export type ImageFilters = ReadonlyMap<FilterKey, readonly string[]>;

/** Parse `--filter` values (and the REPOSITORY[:TAG] argument); usage errors for bad ones. */
export function parseImageFilters(specs: readonly string[], reference?: string): ImageFilters {
  const filters = new Map<FilterKey, string[]>();
  const add = (key: FilterKey, value: string) =>
    filters.set(key, [...(filters.get(key) ?? []), value]);
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const key = (eq < 0 ? spec : spec.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : spec.slice(eq + 1);
    if (!(KEYS as readonly string[]).includes(key)) {
      const near = closestMatch(key, KEYS);
      throw new UsageError(`invalid filter '${key}'`, {
        hint: near ? `Did you mean --filter ${near}=…?` : `Filter by ${KEYS.join(', ')}.`,
      });
    }
    if (eq < 0 || value === '')
      throw new UsageError(`invalid filter '${spec}': it needs a value`, {
        hint: `Write --filter ${key}=VALUE.`,
      });
    if (key === 'dangling' && !['true', 'false', '1', '0'].includes(value.toLowerCase()))
      throw new UsageError(`invalid filter 'dangling=${value}'`, {
        hint: 'Use --filter dangling=true (untagged images) or dangling=false.',
      });
    add(key as FilterKey, value);
  }
  if (reference !== undefined) add('reference', reference);
  return filters;
}

/** Created times of the images `before=`/`since=` name, resolved by the caller. */
export type ImageTimes = ReadonlyMap<string, number>;

/** Does `image` pass every filter? `times` holds the created time of each before/since image. */
export function matchesFilters(
  image: FilterableImage,
  filters: ImageFilters,
  times: ImageTimes,
): boolean {
  for (const [key, values] of filters) {
    if (!values.some((value) => matchesOne(image, key, value, times))) return false;
  }
  return true;
}

function matchesOne(
  image: FilterableImage,
  key: FilterKey,
  value: string,
  times: ImageTimes,
): boolean {
  switch (key) {
    case 'dangling':
      return (image.repository === undefined) === ['true', '1'].includes(value.toLowerCase());
    case 'reference':
      return matchesReference(image, value);
    case 'before':
      return image.created < times.get(value)!;
    case 'since':
      return image.created > times.get(value)!;
    case 'label': {
      const eq = value.indexOf('=');
      if (eq < 0) return Object.hasOwn(image.labels, value);
      return image.labels[value.slice(0, eq)] === value.slice(eq + 1);
    }
  }
}

/** docker's reference.FamiliarMatch: the pattern against `repo:tag`, then against `repo`. */
function matchesReference(image: FilterableImage, pattern: string): boolean {
  if (image.repository === undefined) return false;
  const candidates = [image.tag ? `${image.repository}:${image.tag}` : image.repository];
  candidates.push(image.repository);
  try {
    return candidates.some((name) => matchGlob(pattern, name));
  } catch (error) {
    throw new UsageError(`invalid filter 'reference=${pattern}': ${(error as Error).message}`, {
      hint: 'Use a name or a pattern such as app:* or team/*.',
      cause: error,
    });
  }
}
