/**
 * The GitHub Action (action.yml → dist/index.js): build-push-action's inputs → the build
 * API → outputs, a job summary and annotations. `run()` is the entry point the bundle
 * calls (and @github/local-action, which wants a `run` export); `runAction()` takes the
 * process as an argument, for tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createBuilder,
  recordSteps,
  type Builder,
  type BuildResult,
  type StepRecorder,
} from '../builder/index.ts';
import { createGitHubRenderer } from '../progress/github.ts';
import type { Renderer } from '../progress/types.ts';
import { isGitUrl } from '../shared/git-url.ts';
import {
  annotateFailure,
  annotationTarget,
  fileFor,
  type AnnotationTarget,
} from './annotations.ts';
import { toBuildOptions, type ActionBuild } from './build-options.ts';
import { defaultGitContext, gitAuthEnv, serverUrl } from './git-context.ts';
import { readInputs, type Inputs } from './inputs.ts';
import { restoreOwnership } from './ownership.ts';
import { runAsRoot } from './privileges.ts';
import { appendSummary, command, group, info, mask, setOutput, type ActionIO } from './runner.ts';
import { ensureHostPackages } from './setup.ts';
import { failureSummary, redact, successSummary } from './summary.ts';

/** The store: fixed for the job, so every tbuild step of the job shares its cache. */
export function storeRoot(env: ActionIO['env']): string {
  return env.TBUILD_ROOT || path.join(env.RUNNER_TEMP || tmpdir(), 'tbuild');
}

export async function run(): Promise<void> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const io: ActionIO = {
      env: process.env,
      stdout: process.stdout,
      cwd: process.cwd(),
      signal: abort.signal,
      uid: process.geteuid?.() ?? 0,
    };
    const elevated = await runAsRoot(io, process.argv[1]!).catch((error: unknown) => {
      annotateFailure(io, error, { dockerfileName: '', repoPath: undefined });
      return 1;
    });
    process.exitCode = elevated ?? (await runAction(io));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One build as the Action runs it, as root. Returns the exit status. */
export async function runAction(io: ActionIO): Promise<number> {
  const started = Date.now();
  const env = { ...io.env };
  let inputs: Inputs | undefined;
  let build: ActionBuild | undefined;
  let target: AnnotationTarget = { dockerfileName: 'Dockerfile', repoPath: undefined };
  let renderer: Renderer | undefined;
  let recorder: StepRecorder | undefined;
  let builder: Builder | undefined;
  const secretsDir = await mkdtemp(path.join(env.RUNNER_TEMP || tmpdir(), 'tbuild-secrets-'));
  try {
    inputs = readInputs(env);
    if (inputs['github-token']) mask(io, inputs['github-token']);
    const defaultContext = await defaultGitContext(env);
    build = await toBuildOptions(inputs, { env, defaultContext, secretsDir });
    for (const value of build.masks) mask(io, value);
    for (const warning of build.warnings) command(io, 'warning', {}, warning);
    const context = build.options.context!;
    const workspace = env.GITHUB_WORKSPACE || io.cwd;
    target = annotationTarget(inputs, context, defaultContext, workspace, io.cwd);
    if (inputs['github-token'] && context.startsWith(serverUrl(env))) {
      // Git reads its auth from the environment of the process that spawns it.
      const auth = gitAuthEnv(inputs['github-token'], env);
      Object.assign(env, auth);
      Object.assign(process.env, auth);
    }
    await ensureHostPackages(io, {
      git: isGitUrl(context),
      // A build with RUN steps on the default network needs slirp4netns; with host or none not.
      isolatedNetwork: (build.options.network ?? 'default') === 'default',
    });
    const root = storeRoot(env);
    info(io, `tbuild store: ${root}`);
    builder = await createBuilder({ root, env });
    const annotate = target;
    renderer = createGitHubRenderer(io.stdout, {
      verbose: true,
      annotationFile: (location) => fileFor(annotate, location),
    });
    recorder = recordSteps(renderer.sink);
    const result = await builder.build(build.options, {
      signal: io.signal,
      onProgress: recorder.sink,
      cwd: io.cwd,
      env,
    });
    renderer.close();
    await restoreOwnership(build.options, io);
    await writeOutputs(io, result, build);
    await appendSummary(
      io,
      redact(
        successSummary(result, {
          tags: inputs.tags,
          pushTo: build.pushTo,
          durationMs: Date.now() - started,
          dockerfile: target.repoPath,
        }),
        build.masks,
      ),
    );
    return 0;
  } catch (error) {
    renderer?.close();
    annotateFailure(io, error, target);
    await appendSummary(
      io,
      redact(
        failureSummary(error, recorder?.steps() ?? [], {
          tags: inputs?.tags ?? [],
          pushTo: [],
          durationMs: Date.now() - started,
          dockerfile: target.repoPath,
        }),
        build?.masks ?? [],
      ),
    ).catch(() => undefined);
    return 1;
  } finally {
    await builder?.close();
    await rm(secretsDir, { recursive: true, force: true });
  }
}

/** imageid, digest and metadata, as build-push-action sets them. */
async function writeOutputs(io: ActionIO, result: BuildResult, build: ActionBuild) {
  // build-push-action asks buildx for an image ID only without local or tar outputs.
  const metadata = build.exportsImage ? result.metadata : {};
  const text = JSON.stringify(metadata, null, 2);
  await group(io, 'Outputs', async () => {
    if (build.exportsImage) {
      info(io, `imageid: ${result.imageId}`);
      info(io, `digest: ${result.manifestDigest}`);
      await setOutput(io, 'imageid', result.imageId);
      await setOutput(io, 'digest', result.manifestDigest);
    }
    info(io, `metadata: ${text}`);
    await setOutput(io, 'metadata', text);
  });
}
