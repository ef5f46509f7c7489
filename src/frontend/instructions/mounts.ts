/**
 * `RUN --mount=…` values: comma-separated `key=value` fields (CSV quoting), with
 * BuildKit's keys, aliases and defaults for bind, cache, tmpfs, secret and ssh mounts.
 */
import { closestMatch } from '../../shared/errors.ts';
import type { SourceLocation } from '../../shared/errors.ts';
import { didYouMean, InvalidInstructionError } from '../errors.ts';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface MountSpec {
  type: MountType;
  /** Absolute or relative to the working directory (resolved when lowering). */
  target: string;
  source?: string;
  /** Stage name, index or image the mount reads from. */
  from?: string;
  readonly: boolean;
  id?: string;
  sharing?: CacheSharing;
  mode?: number;
  uid?: number;
  gid?: number;
  required: boolean;
  /** Secret: also (or only) expose it as this environment variable. */
  env?: string;
  /** Tmpfs size in bytes. */
  size?: number;
}

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const KEYS = [
  'type',
  'target',
  'dst',
  'destination',
  'source',
  'src',
  'from',
  'readonly',
  'ro',
  'rw',
  'readwrite',
  'id',
  'sharing',
  'mode',
  'uid',
  'gid',
  'required',
  'env',
  'size',
];
const BOOL_KEYS = new Set(['readonly', 'ro', 'rw', 'readwrite', 'required']);

/** Split a CSV record: commas separate fields, double quotes protect commas. */
function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '"') {
      if (quoted && value[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields.filter((f) => f.trim() !== '');
}

/**
 * Parse one `--mount` value. `expand` expands variables in each value (identity when
 * only checking syntax). Throws InvalidInstructionError naming the bad field.
 */
export function parseMount(
  raw: string,
  expand: (word: string) => string,
  location: SourceLocation,
): MountSpec {
  const fail = (message: string, hint: string): never => {
    throw new InvalidInstructionError(`RUN --mount=${raw}: ${message}`, { hint, location });
  };
  const fields = new Map<string, string | undefined>();
  for (const field of splitCsv(raw)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    if (!KEYS.includes(key)) {
      fail(
        `unknown key "${key}"`,
        didYouMean(closestMatch(key, KEYS), `Valid keys: ${KEYS.join(', ')}.`),
      );
    }
    if (eq < 0 && !BOOL_KEYS.has(key)) fail(`"${key}" needs a value`, `Write ${key}=<value>.`);
    fields.set(key, eq < 0 ? undefined : expand(field.slice(eq + 1)));
  }
  const type = (fields.get('type') ?? 'bind') as MountType;
  if (!MOUNT_TYPES.includes(type)) {
    fail(
      `unknown mount type "${type}"`,
      didYouMean(closestMatch(type, MOUNT_TYPES), `Use one of: ${MOUNT_TYPES.join(', ')}.`),
    );
  }
  const spec: MountSpec = { type, target: '', readonly: type === 'bind', required: false };
  for (const [key, value] of fields) applyField(spec, key, value, fail);
  checkMount(spec, fail);
  return spec;
}

type Fail = (message: string, hint: string) => never;

function applyField(spec: MountSpec, key: string, value: string | undefined, fail: Fail): void {
  const bool = (): boolean => {
    if (value === undefined || value.toLowerCase() === 'true') return true;
    if (value.toLowerCase() === 'false') return false;
    return fail(`${key}=${value} is not a boolean`, `Use ${key}, ${key}=true or ${key}=false.`);
  };
  const int = (radix: number): number => {
    const n = radix === 8 ? parseInt(value!, 8) : Number(value);
    const ok = radix === 8 ? /^[0-7]+$/.test(value!) : /^\d+$/.test(value!);
    return ok
      ? n
      : fail(
          `${key}=${value} is not a valid number`,
          radix === 8 ? 'Use an octal mode such as 0755.' : 'Use a non-negative integer.',
        );
  };
  switch (key) {
    case 'target':
    case 'dst':
    case 'destination':
      spec.target = value!;
      break;
    case 'source':
    case 'src':
      spec.source = value!;
      break;
    case 'from':
      spec.from = value!;
      break;
    case 'readonly':
    case 'ro':
      spec.readonly = bool();
      break;
    case 'rw':
    case 'readwrite':
      spec.readonly = !bool();
      break;
    case 'required':
      spec.required = bool();
      break;
    case 'id':
      spec.id = value!;
      break;
    case 'sharing':
      if (!['shared', 'private', 'locked'].includes(value!)) {
        fail(
          `sharing=${value} is not valid`,
          'Use sharing=shared, sharing=private or sharing=locked.',
        );
      }
      spec.sharing = value as CacheSharing;
      break;
    case 'mode':
      spec.mode = int(8);
      break;
    case 'uid':
      spec.uid = int(10);
      break;
    case 'gid':
      spec.gid = int(10);
      break;
    case 'env':
      spec.env = value!;
      break;
    case 'size':
      spec.size =
        parseSize(value!) ??
        fail(`size=${value} is not a size`, 'Use bytes or a unit, e.g. size=64m.');
      break;
  }
}

/** Docker's RAMInBytes: `1024`, `64m`, `1.5g`, `512k` (binary units). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = ' kmgtp'.indexOf(m[2]!.toLowerCase() || ' ');
  return Math.round(Number(m[1]) * 1024 ** power);
}

function checkMount(spec: MountSpec, fail: Fail): void {
  const { type } = spec;
  if (spec.sharing !== undefined && type !== 'cache') {
    fail(`sharing is only for cache mounts, not ${type}`, 'Remove sharing= or use type=cache.');
  }
  if (
    (spec.mode !== undefined || spec.uid !== undefined || spec.gid !== undefined) &&
    !['cache', 'secret', 'ssh'].includes(type)
  ) {
    fail(
      `mode, uid and gid are not supported for ${type} mounts`,
      'Use them with type=cache, secret or ssh.',
    );
  }
  if (spec.size !== undefined && type !== 'tmpfs')
    fail(`size is only for tmpfs mounts`, 'Remove size= or use type=tmpfs.');
  if (spec.env !== undefined && type !== 'secret')
    fail(`env is only for secret mounts`, 'Remove env= or use type=secret.');
  if ((type === 'secret' || type === 'ssh') && spec.from !== undefined) {
    fail(`${type} mounts cannot have from=`, 'Remove from=.');
  }
  if (type === 'tmpfs' && (spec.source !== undefined || spec.from !== undefined)) {
    fail('tmpfs mounts cannot have a source', 'Remove source= and from=.');
  }
  if (type === 'secret') {
    if (spec.source !== undefined)
      fail('secret mounts cannot have a source', 'Use id= to name the secret.');
    if (!spec.id && !spec.target) fail('secret mount needs id= or target=', 'Add id=<secret id>.');
    spec.id ??= spec.target.split('/').filter(Boolean).at(-1)!;
    if (!spec.target && spec.env === undefined) spec.target = `/run/secrets/${spec.id}`;
    spec.mode ??= 0o400;
  } else if (type === 'ssh') {
    spec.id ??= 'default';
    // Without target=, the RUN numbers its ssh mounts: /run/buildkit/ssh_agent.<n> (dispatch-run.ts).
    spec.mode ??= 0o600;
  } else if (!spec.target) {
    fail(`${type} mount needs a target`, 'Add target=<path inside the container>.');
  }
  if (type === 'cache') {
    spec.id ??= spec.target;
    spec.sharing ??= 'shared';
    spec.mode ??= 0o755;
  }
  if (type === 'secret' || type === 'ssh') {
    spec.uid ??= 0;
    spec.gid ??= 0;
  }
}
