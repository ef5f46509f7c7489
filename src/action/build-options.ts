/**
 * build-push-action's inputs → the builder's typed options. Inputs tbuild cannot honour
 * fail here with an InputError naming them; none is dropped without a word.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  parseAddHosts,
  parseKeyValues,
  parseNamedValues,
  parseOutputSpec,
  parseRamSize,
  parseSshAgents,
  parseUlimits,
  parseAllow,
  type BuildOptions,
  type NetworkMode,
  type OutputSpec,
  type SecretSpec,
} from '../builder/index.ts';
import { cacheOptions } from './cache.ts';
import { InputError } from './errors.ts';
import { expandDefaultContext } from './git-context.ts';
import type { Env, Inputs } from './inputs.ts';

export interface ActionBuild {
  options: BuildOptions;
  /** Values the log must never show: secret values (`::add-mask::` them first). */
  masks: string[];
  /** Inputs accepted with a caveat; each becomes a `::warning`. */
  warnings: string[];
  /** Whether the build leaves an image (not only files): imageid and digest are set then. */
  exportsImage: boolean;
  /** Registry names the image is pushed to. */
  pushTo: string[];
}

export interface MappingContext {
  env: Env;
  /** The repository at the event's commit, as a Git URL (the default context). */
  defaultContext: string;
  /** A private directory for secret files (removed after the build). */
  secretsDir: string;
}

export async function toBuildOptions(inputs: Inputs, ctx: MappingContext): Promise<ActionBuild> {
  const warnings = refuseUnsupported(inputs);
  const { secrets, masks } = await resolveSecrets(inputs, ctx, warnings);
  const outputs = inputs.outputs.map((spec) => inInput('outputs', () => parseOutputSpec(spec)));
  const context = expandDefaultContext(inputs.context, ctx.defaultContext) || ctx.defaultContext;
  const options: BuildOptions = {
    context,
    ...(inputs.file ? { file: inputs.file } : {}),
    tags: inputs.tags,
    buildArgs: inInput('build-args', () =>
      parseKeyValues(inputs['build-args'], '--build-arg', ctx.env),
    ),
    ...(inputs.target ? { target: inputs.target } : {}),
    ...(inputs.platforms.length > 0 ? { platform: inputs.platforms.join(',') } : {}),
    noCache: inputs['no-cache'],
    noCacheFilter: inputs['no-cache-filters'],
    pull: inputs.pull,
    outputs,
    push: inputs.push,
    load: inputs.load,
    secrets,
    sshAgents: await inInputAsync('ssh', () => parseSshAgents(inputs.ssh, ctx.env)),
    buildContexts: inInput('build-contexts', () =>
      parseNamedValues(
        inputs['build-contexts'].map((c) => expandDefaultContext(c, ctx.defaultContext)),
        '--build-context',
        'name=path',
      ),
    ),
    extraHosts: inInput('add-hosts', () => parseAddHosts(inputs['add-hosts'])),
    ...(inputs['shm-size']
      ? { shmSize: inInput('shm-size', () => parseRamSize(inputs['shm-size'], 'shm-size')) }
      : {}),
    ulimits: inInput('ulimit', () => parseUlimits(inputs.ulimit)),
    network: (inputs.network || 'default') as NetworkMode,
    // As build-push-action: a list of entitlements; the builder refuses unknown ones.
    allow: inInput('allow', () => parseAllow(inputs.allow)),
    labels: inInput('labels', () => parseKeyValues(inputs.labels, '--label')),
    ...cacheOptions(inputs),
  };
  return {
    options,
    masks,
    warnings,
    exportsImage: !outputs.some((o) => o.type === 'local' || o.type === 'tar'),
    pushTo: pushDestinations(outputs, inputs),
  };
}

/** Inputs that would change the result in ways tbuild cannot: each fails, by name. */
function refuseUnsupported(inputs: Inputs): string[] {
  const refuse = (input: string, why: string, hint: string) => {
    throw new InputError(input, why, { hint });
  };
  for (const name of ['annotations', 'attests'] as const)
    if (inputs[name].length)
      refuse(name, 'tbuild does not add annotations or attestations yet', `Remove ${name}.`);
  for (const name of ['provenance', 'sbom'] as const)
    if (inputs[name] && !/^(false|0)$/i.test(inputs[name]))
      refuse(
        name,
        `"${inputs[name]}": tbuild does not make ${name} attestations yet`,
        `Remove ${name} or set it to false.`,
      );
  if (inputs.call && inputs.call !== 'build')
    refuse('call', `"${inputs.call}" is not supported`, 'tbuild runs builds only (call: build).');
  if (inputs['cgroup-parent'])
    refuse('cgroup-parent', 'RUN steps are not placed in a cgroup of your choice', 'Remove it.');
  return inputs.builder
    ? [
        `input "builder" (${inputs.builder}) has no effect: tbuild builds in this step's process, without a buildx builder`,
      ]
    : [];
}

/**
 * build-push-action's three secret inputs: `secrets` (id=value, the value written to a
 * private file and masked), `secret-files` (id=path) and `secret-envs` (id=VARIABLE).
 * A malformed entry is a warning and left out, as build-push-action does.
 */
async function resolveSecrets(
  inputs: Inputs,
  ctx: MappingContext,
  warnings: string[],
): Promise<{ secrets: SecretSpec[]; masks: string[] }> {
  const secrets: SecretSpec[] = [];
  const masks: string[] = [];
  const split = (kvp: string): [string, string] | undefined => {
    const eq = kvp.indexOf('=');
    const pair: [string, string] = [kvp.slice(0, eq), kvp.slice(eq + 1)];
    return eq > 0 && pair[1] !== '' ? pair : undefined;
  };
  let n = 0;
  for (const entry of inputs.secrets) {
    const pair = split(entry);
    if (!pair) {
      // Never echo the entry: it may hold the value.
      warnings.push(`input "secrets": entry ${++n} is not id=value; it is left out`);
      continue;
    }
    masks.push(pair[1]);
    const file = path.join(ctx.secretsDir, `secret-${secrets.length}`);
    await writeFile(file, pair[1], { mode: 0o600 });
    secrets.push({ id: pair[0], file });
  }
  for (const entry of inputs['secret-files']) {
    const pair = split(entry);
    if (!pair || !existsSync(pair[1])) {
      warnings.push(`input "secret-files": ${entry} is not id=path of an existing file; left out`);
      continue;
    }
    secrets.push({ id: pair[0], file: pair[1] });
  }
  for (const entry of inputs['secret-envs']) {
    const pair = split(entry);
    if (!pair) {
      warnings.push(`input "secret-envs": ${entry} is not id=VARIABLE; left out`);
      continue;
    }
    const value = ctx.env[pair[1]];
    if (value) masks.push(value);
    secrets.push({ id: pair[0], env: pair[1] });
  }
  return { secrets, masks };
}

function pushDestinations(outputs: readonly OutputSpec[], inputs: Inputs): string[] {
  const named = outputs
    .filter((o) => o.push)
    .flatMap((o) => (o.names.length ? o.names : inputs.tags));
  return [...new Set([...(inputs.push ? inputs.tags : []), ...named])];
}

/** Run a parser of the builder's; its usage errors name the input they came from. */
function inInput<T>(input: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw asInputError(input, error);
  }
}

async function inInputAsync<T>(input: string, parse: () => Promise<T>): Promise<T> {
  try {
    return await parse();
  } catch (error) {
    throw asInputError(input, error);
  }
}

function asInputError(input: string, error: unknown): unknown {
  if (!(error instanceof Error) || !('code' in error) || error.code !== 'TBUILD_USAGE')
    return error;
  const hint = (error as { hint?: string }).hint;
  return new InputError(input, error.message, { ...(hint ? { hint } : {}), cause: error });
}
