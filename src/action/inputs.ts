/**
 * The Action's inputs, read exactly as docker/build-push-action reads them: the runner puts
 * each in `INPUT_<NAME>` (upper-cased, hyphens kept); lists are newline- or comma-separated
 * CSV (its `Util.getInputList`, with csv-parse and the same options per input).
 */
import { parse } from 'csv-parse/sync';
import { InputError } from './errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** @actions/core's getInput: the variable's value, trimmed unless told not to. */
export function getInput(env: Env, name: string, { trim = true } = {}): string {
  const value = env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '';
  return trim ? value.trim() : value;
}

/**
 * @actions/core's getBooleanInput (YAML 1.2 core schema). An unset input is false, the
 * default action.yml gives every boolean input, so a harness that leaves it out agrees.
 */
export function getBooleanInput(env: Env, name: string): boolean {
  const value = getInput(env, name);
  if (value === '' || ['false', 'False', 'FALSE'].includes(value)) return false;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  throw new InputError(
    name,
    `"${value}" is not a boolean: use true | True | TRUE | false | False | FALSE`,
  );
}

export interface ListOptions {
  /** One item per line, commas kept (build-args, labels, outputs…). */
  ignoreComma?: boolean;
  /** csv-parse's quote option; `false` leaves quotes as they are (outputs). */
  quote?: false;
  /** Keep leading and trailing spaces (secrets). */
  trimWhitespace?: boolean;
}

/** build-push-action's `Util.getInputList`. */
export function getInputList(env: Env, name: string, options: ListOptions = {}): string[] {
  const input = getInput(env, name, { trim: options.trimWhitespace !== false });
  if (input === '') return [];
  const records = parse(input, {
    columns: false,
    relaxQuotes: true,
    relaxColumnCount: true,
    skipEmptyLines: true,
    ...(options.quote === false ? { quote: false } : {}),
  }) as string[][];
  const items: string[] = [];
  for (const record of records) {
    if (record.length === 1) {
      if (options.ignoreComma) items.push(record[0]!);
      else items.push(...record[0]!.split(','));
    } else if (!options.ignoreComma) items.push(...record);
    else items.push(record.join(','));
  }
  return items
    .filter((item) => item)
    .map((item) => (options.trimWhitespace === false ? item : item.trim()));
}

/** Every input of docker/build-push-action, as it reads them. */
export interface Inputs {
  'add-hosts': string[];
  allow: string[];
  annotations: string[];
  attests: string[];
  'build-args': string[];
  'build-contexts': string[];
  builder: string;
  'cache-from': string[];
  'cache-to': string[];
  call: string;
  'cgroup-parent': string;
  context: string;
  file: string;
  labels: string[];
  load: boolean;
  network: string;
  'no-cache': boolean;
  'no-cache-filters': string[];
  outputs: string[];
  platforms: string[];
  provenance: string;
  pull: boolean;
  push: boolean;
  sbom: string;
  secrets: string[];
  'secret-envs': string[];
  'secret-files': string[];
  'shm-size': string;
  ssh: string[];
  tags: string[];
  target: string;
  ulimit: string[];
  'github-token': string;
}

/** Read every input; the list options are build-push-action's, input by input. */
export function readInputs(env: Env): Inputs {
  const list = (name: string, options?: ListOptions) => getInputList(env, name, options);
  const one = (name: string) => getInput(env, name);
  const bool = (name: string) => getBooleanInput(env, name);
  const lines = { ignoreComma: true };
  return {
    'add-hosts': list('add-hosts'),
    allow: list('allow'),
    annotations: list('annotations', lines),
    attests: list('attests', lines),
    'build-args': list('build-args', lines),
    'build-contexts': list('build-contexts', lines),
    builder: one('builder'),
    'cache-from': list('cache-from', lines),
    'cache-to': list('cache-to', lines),
    call: one('call'),
    'cgroup-parent': one('cgroup-parent'),
    context: one('context'),
    file: one('file'),
    labels: list('labels', lines),
    load: bool('load'),
    network: one('network'),
    'no-cache': bool('no-cache'),
    'no-cache-filters': list('no-cache-filters'),
    outputs: list('outputs', { ignoreComma: true, quote: false }),
    platforms: list('platforms'),
    provenance: one('provenance'),
    pull: bool('pull'),
    push: bool('push'),
    sbom: one('sbom'),
    secrets: list('secrets', { ignoreComma: true, trimWhitespace: false }),
    'secret-envs': list('secret-envs'),
    'secret-files': list('secret-files', lines),
    'shm-size': one('shm-size'),
    ssh: list('ssh'),
    tags: list('tags'),
    target: one('target'),
    ulimit: list('ulimit', lines),
    'github-token': one('github-token'),
  };
}
