/**
 * Checks BuildKit makes while it lowers a stage's instructions: only on stages that are
 * built (every stage under `--check`), with the stage's variables at that point.
 */
import type { SourceLocation } from '../../shared/errors.ts';
import type { IgnoreMatcher } from '../../shared/dockerignore.ts';
import type { StageContext } from '../build-context.ts';
import type { Command } from '../instructions/types.ts';
import { MESSAGES } from './rules.ts';
import { suggestName } from './suggest.ts';

/** Build args that never become environment variables, so never count as undefined. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

// A secret-sounding name: one of these words, alone or between underscores.
const SECRET_WORDS =
  /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const NOT_SECRET_WORDS = /(?:_|^)(?:public)(?:_|$)/i;

/** Variables an instruction used that neither the build state nor a declared ARG defines. */
export function lintUndefinedVars(
  ctx: StageContext,
  cmd: Command,
  unset: ReadonlySet<string>,
): void {
  // The suggestions come from the build state's environment (ENV and ARG values).
  const options = ctx.env.map((e) => e.split('=', 1)[0]!);
  for (const name of unset) {
    if (ctx.args.has(name) || NON_ENV_ARGS.has(name)) continue;
    const suggestion = suggestName(name, options);
    ctx.build.lint.run('UndefinedVar', cmd.location, MESSAGES.UndefinedVar(name, suggestion));
  }
}

/** ARG and ENV names that look like secrets belong in secret mounts, not in the image. */
export function lintSecretName(
  ctx: StageContext,
  instruction: 'ARG' | 'ENV',
  key: string,
  location: SourceLocation,
): void {
  if (SECRET_WORDS.test(key) && !NOT_SECRET_WORDS.test(key)) {
    ctx.build.lint.run(
      'SecretsUsedInArgOrEnv',
      location,
      MESSAGES.SecretsUsedInArgOrEnv(instruction, key),
    );
  }
}

/**
 * CMD, ENTRYPOINT and HEALTHCHECK count once per stage: a repeat is reported at the
 * earlier one, which is the one that has no effect.
 */
export function lintUsedOnce(
  ctx: StageContext,
  kind: 'cmd' | 'entrypoint' | 'healthcheck',
  cmd: Command,
): void {
  const previous = ctx.lastOnce[kind];
  if (previous) {
    ctx.build.lint.run(
      'MultipleInstructionsDisallowed',
      previous,
      MESSAGES.MultipleInstructionsDisallowed(cmd.name),
    );
  }
  ctx.lastOnce[kind] = cmd.location;
}

/** Shell-form CMD/ENTRYPOINT without a SHELL: the process will not get signals. */
export function lintShellForm(ctx: StageContext, cmd: Command, shellForm: boolean): void {
  if (!shellForm || (ctx.image.config.Shell?.length ?? 0) > 0) return;
  ctx.build.lint.run('JSONArgsRecommended', cmd.location, MESSAGES.JSONArgsRecommended(cmd.name));
}

/** The first WORKDIR of a stage should be absolute: the base image's may change. */
export function lintWorkdir(ctx: StageContext, cmd: Command, path: string): void {
  if (!ctx.workdirSet && !path.startsWith('/')) {
    ctx.build.lint.run('WorkdirRelativePath', cmd.location, MESSAGES.WorkdirRelativePath(path));
  }
  ctx.workdirSet = true;
}

/** `80/TCP` and `127.0.0.1:8080:80` in EXPOSE (BuildKit's port-spec parse). */
export function lintExposedPort(ctx: StageContext, cmd: Command, raw: string): void {
  const parts = raw.split(':');
  const containerPort = parts.at(-1)!;
  const hostPart = parts.length > 1;
  const slash = containerPort.indexOf('/');
  const proto = slash < 0 ? '' : containerPort.slice(slash + 1).split('/')[0]!;
  if (proto !== proto.toLowerCase()) {
    ctx.build.lint.run('ExposeProtoCasing', cmd.location, MESSAGES.ExposeProtoCasing(raw));
  }
  if (hostPart) {
    ctx.build.lint.run('ExposeInvalidFormat', cmd.location, MESSAGES.ExposeInvalidFormat(raw));
  }
}

/** A COPY/ADD source from the context that .dockerignore excludes (or a parent of it). */
export function lintIgnoredSource(
  ctx: StageContext,
  cmd: Command,
  ignore: IgnoreMatcher,
  src: string,
): void {
  if (ignore.empty || !ignore.ignores(cleanSource(src))) return;
  const instruction = cmd.kind === 'add' ? 'Add' : 'Copy';
  ctx.build.lint.run('CopyIgnoredFile', cmd.location, MESSAGES.CopyIgnoredFile(instruction, src));
}

/** A source path cleaned like Go's filepath.Clean, relative to the context root. */
function cleanSource(src: string): string {
  const parts: string[] = [];
  for (const part of src.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/') || '.';
}
