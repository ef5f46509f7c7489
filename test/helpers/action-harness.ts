/**
 * Run the Action's bundle (dist/index.js) exactly as the runner does: `node dist/index.js`
 * in GITHUB_WORKSPACE with no stdin, every input of action.yml in `INPUT_<NAME>` (names
 * upper-cased, hyphens kept, defaults applied), and fresh GITHUB_OUTPUT, GITHUB_STATE and
 * GITHUB_STEP_SUMMARY files, then read what it left there.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './run-tbuild.ts';

export const ACTION_BUNDLE = path.join(REPO_ROOT, 'dist/index.js');

/** action.yml's inputs and their defaults (the runner fills these in). */
export async function actionInputs(): Promise<Record<string, string>> {
  const text = await readFile(path.join(REPO_ROOT, 'action.yml'), 'utf8');
  const block = text.slice(text.indexOf('\ninputs:\n'), text.indexOf('\noutputs:\n'));
  const inputs: Record<string, string> = {};
  let current: string | undefined;
  for (const line of block.split('\n')) {
    const name = /^ {2}([a-z-]+):$/.exec(line);
    if (name) inputs[(current = name[1]!)] = '';
    const dflt = /^ {4}default: (.*)$/.exec(line);
    if (dflt && current) inputs[current] = dflt[1]!.replace(/^'(.*)'$/, '$1');
  }
  return inputs;
}

/** A job's runner: one RUNNER_TEMP (so one store) shared by the steps run in it. */
export interface FakeRunner {
  dir: string;
  runnerTemp: string;
  /** The store the Action uses in this job ($RUNNER_TEMP/tbuild). */
  store: string;
}

export async function makeRunner(): Promise<FakeRunner> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-runner-'));
  const runnerTemp = path.join(dir, '_temp');
  await mkdir(runnerTemp);
  return { dir, runnerTemp, store: path.join(runnerTemp, 'tbuild') };
}

export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  state: string;
}

export interface StepOptions {
  workspace: string;
  inputs?: Record<string, string>;
  /** Extra environment (GITHUB_SHA, secrets for secret-envs, …). */
  env?: Record<string, string>;
  /** Run as this user (as a hosted runner's `runner`), through runuser; default: as is. */
  user?: string;
}

/** One `uses: ./` step of a job on `runner`. */
export async function runActionStep(runner: FakeRunner, opts: StepOptions): Promise<StepResult> {
  const files = await mkdtemp(path.join(runner.dir, 'step-'));
  const output = path.join(files, 'output');
  const summary = path.join(files, 'summary');
  const state = path.join(files, 'state');
  await Promise.all([output, summary, state].map((f) => writeFile(f, '', { mode: 0o666 })));
  if (opts.user) await chmod(files, 0o777);
  const inputs = { ...(await actionInputs()), 'github-token': '', ...opts.inputs };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: opts.workspace,
    GITHUB_OUTPUT: output,
    GITHUB_STATE: state,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_REPOSITORY: 'tbuild-tests/app',
    GITHUB_SHA: '0000000000000000000000000000000000000000',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SERVER_URL: 'https://github.com',
    RUNNER_TEMP: runner.runnerTemp,
    RUNNER_OS: 'Linux',
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    ...opts.env,
  };
  const { code, stdout, stderr } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const [file, args] = opts.user
      ? ['runuser', ['-u', opts.user, '--', process.execPath, ACTION_BUNDLE]]
      : [process.execPath, [ACTION_BUNDLE]];
    const child = spawn(file, args, {
      cwd: opts.workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  return {
    code,
    stdout,
    stderr,
    outputs: parseFileCommands(await readFile(output, 'utf8')),
    summary: await readFile(summary, 'utf8'),
    state: await readFile(state, 'utf8'),
  };
}

/** `name<<DELIMITER\nvalue\nDELIMITER` entries (and `name=value` lines), as the runner reads them. */
export function parseFileCommands(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      if (end < 0) throw new Error(`unterminated file command ${heredoc[1]}`);
      values[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      values[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return values;
}
