/**
 * The default build context, as build-push-action makes it: the workflow's repository at
 * the event's commit, as a Git URL (`https://github.com/owner/repo.git#<sha>`), fetched
 * rather than read from the workspace. `{{defaultContext}}` in `context` and
 * `build-contexts` stands for it (`{{defaultContext}}:subdir`).
 */
import { readFile } from 'node:fs/promises';
import type { Env } from './inputs.ts';

/** GITHUB_SERVER_URL, as @actions/github reads it. */
export function serverUrl(env: Env): string {
  return env.GITHUB_SERVER_URL || 'https://github.com';
}

/** actions-toolkit's Build.gitContext() in its default (fragment) form. */
export async function defaultGitContext(env: Env): Promise<string> {
  let ref = env.GITHUB_REF ?? '';
  if (!ref.startsWith('refs/')) ref = `refs/heads/${ref}`;
  else if (ref.startsWith('refs/pull/') && isTrue(env.DOCKER_DEFAULT_GIT_CONTEXT_PR_HEAD_REF))
    ref = ref.replace(/\/merge$/, '/head');
  let pinned = env.GITHUB_SHA || ref;
  if (ref.startsWith('refs/pull/') && ref.endsWith('/head')) {
    // A pull request's head ref pins the head commit, not the merge commit.
    const event = await readEvent(env);
    const head = event?.pull_request?.head?.sha;
    pinned = typeof head === 'string' ? head : ref;
  }
  return `${serverUrl(env)}/${env.GITHUB_REPOSITORY ?? ''}.git#${pinned}`;
}

async function readEvent(
  env: Env,
): Promise<{ pull_request?: { head?: { sha?: unknown } } } | undefined> {
  if (!env.GITHUB_EVENT_PATH) return undefined;
  try {
    return JSON.parse(await readFile(env.GITHUB_EVENT_PATH, 'utf8')) as {
      pull_request?: { head?: { sha?: unknown } };
    };
  } catch {
    // No readable event payload: the ref itself is fetched, as actions-toolkit does.
    return undefined;
  }
}

function isTrue(value: string | undefined): boolean {
  return ['1', 't', 'true'].includes((value ?? '').toLowerCase());
}

/** handlebars' `{{defaultContext}}` as build-push-action compiles it (spaces allowed). */
export function expandDefaultContext(text: string, defaultContext: string): string {
  return text.replace(/\{\{\s*defaultContext\s*\}\}/g, defaultContext);
}

/**
 * Environment for git so that fetching the default context (and `ADD` of the same
 * server's repositories) authenticates with `github-token`, the way actions/checkout does:
 * an `http.<server>/.extraheader` from GIT_CONFIG_* variables, never written to a file.
 */
export function gitAuthEnv(token: string, env: Env): Record<string, string> {
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  const count = Number(env.GIT_CONFIG_COUNT ?? 0) || 0;
  return {
    GIT_CONFIG_COUNT: String(count + 1),
    [`GIT_CONFIG_KEY_${count}`]: `http.${serverUrl(env)}/.extraheader`,
    [`GIT_CONFIG_VALUE_${count}`]: `AUTHORIZATION: basic ${basic}`,
  };
}
