/**
 * Typed errors. Every error tbuild raises on purpose is a TbuildError with a stable
 * `code`; only the CLI formats them and picks the exit code. Modules subclass this in
 * their own `errors.ts`.
 */

/** 1-based, inclusive line range in a Dockerfile. */
export interface LineRange {
  start: number;
  end: number;
}

/** Where in the user's input an error points. */
export interface SourceLocation {
  file?: string;
  range?: LineRange;
}

export interface TbuildErrorOptions {
  /** One sentence that tells the user how to fix it. */
  hint?: string;
  location?: SourceLocation;
  cause?: unknown;
  /** Process exit code the CLI should use (default 1). */
  exitCode?: number;
}

/** The text of the file an error points into, so it can be shown without global state. */
export interface ErrorSource {
  file: string;
  text: string;
}

export class TbuildError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** Where the error points; set at construction, or once later by withLocation. */
  location: SourceLocation | undefined;
  readonly exitCode: number;
  /** The file `location` points into, attached by whoever knows it (see withSource). */
  source: ErrorSource | undefined;

  constructor(code: string, message: string, options: TbuildErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.location = options.location;
    this.exitCode = options.exitCode ?? 1;
  }
}

/**
 * The command line is wrong: an unknown command or flag, a missing argument, a flag value
 * that does not parse, a feature not supported yet. Exit code 125, as docker's CLI uses
 * for usage errors. The one usage-error class: the CLI's parser failures are these too.
 */
export class UsageError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_USAGE', message, { exitCode: 125, ...options });
  }
}

/**
 * What the command line names cannot be had: a context path or Dockerfile that does not
 * exist, a context URL that does not download. The flags were right, so this is not a
 * usage error; docker exits 1 here too.
 */
export class InputError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_INPUT', message, options);
  }
}

/** The operation was cancelled (Ctrl-C or a sibling failure). */
export class CancelledError extends TbuildError {
  constructor(message = 'cancelled', options: TbuildErrorOptions = {}) {
    super('TBUILD_CANCELLED', message, { exitCode: 130, ...options });
  }
}

/**
 * The disk under the store (or an output) is full. One clear error, exit 1; the store stays
 * consistent (partial blobs and snapshots are dropped), so a retry after freeing space works.
 */
export class DiskFullError extends TbuildError {
  /** The directory whose filesystem is full. */
  readonly where: string;
  constructor(where: string, doing: string, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_DISK_FULL',
      `no space left on device: the disk holding ${where} is full (${doing})`,
      {
        hint: `Free space on that filesystem (\`tbuild prune\` removes unused build cache), or point --root at a larger disk, then run the command again.`,
        ...options,
      },
    );
    this.where = where;
  }
}

/** Whether `error` (or one of its causes) is a full disk: ENOSPC, EDQUOT or SQLite's SQLITE_FULL. */
export function isDiskFull(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'TBUILD_DISK_FULL') return true;
    const sqlite = e as { errcode?: unknown; errstr?: unknown };
    if (sqlite.errcode === 13 || sqlite.errstr === 'database or disk is full') return true;
    e = e.cause;
  }
  return false;
}

/**
 * The reader of an output stream went away (`tbuild build -o type=tar,dest=- | head`): the
 * output ends there, as a closed pipe ends any CLI tool. Exit code 141, a SIGPIPE'd
 * process's status in the shell; the CLI prints nothing for it.
 */
export class OutputClosedError extends TbuildError {
  constructor(options: TbuildErrorOptions = {}) {
    super('TBUILD_OUTPUT_CLOSED', 'the output stream was closed by its reader', {
      exitCode: 141,
      ...options,
    });
  }
}

export function isTbuildError(err: unknown): err is TbuildError {
  return err instanceof TbuildError;
}

/**
 * Attach the text of `source.file` to `error` when the error points into that file and
 * carries no source yet (BuildKit's errdefs.WithSource). Returns the error, for `throw`.
 */
export function withSource<E>(error: E, source: ErrorSource): E {
  if (
    isTbuildError(error) &&
    error.source === undefined &&
    error.location?.range !== undefined &&
    (error.location.file ?? source.file) === source.file
  )
    error.source = source;
  return error;
}

/**
 * Point `error` at `location` when it points nowhere yet: a failure raised below the
 * frontend (a registry lookup for FROM or COPY --from) is shown at the Dockerfile line that
 * caused it, as BuildKit shows it. Returns the error, for `throw`.
 */
export function withLocation<E>(error: E, location: SourceLocation): E {
  if (isTbuildError(error) && error.location === undefined) error.location = location;
  return error;
}

/**
 * Levenshtein-based "did you mean" helper for hints: the closest candidate within
 * a small edit distance, or undefined.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(w.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(w, candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
