/**
 * Typed Dockerfile commands: what each instruction means, flags validated, values not
 * yet expanded (variables are expanded when the stage is lowered, with the stage's
 * environment at that point).
 */
import type { Heredoc, LineRange } from '../../parser/types.ts';
import type { SourceLocation } from '../../shared/errors.ts';

export interface CommandBase {
  /** Upper-case instruction name. */
  name: string;
  /** The instruction name as written (`from`, `Run`), for the casing checks. */
  written: string;
  /** The instruction text, for history entries and ONBUILD. */
  original: string;
  range: LineRange;
  location: SourceLocation;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface FromCommand extends CommandBase {
  kind: 'from';
  image: string;
  /** `AS name`, as written (compare case-insensitively). */
  stageName?: string;
  /** The `AS` keyword as written (`as`, `AS`), for FromAsCasing. */
  asKeyword?: string;
  platform?: string;
}

/** CMD / ENTRYPOINT / RUN argument forms. */
export interface CommandLine {
  /** Shell form: one string to wrap in the stage's SHELL. Exec form: argv. */
  cmd: string[];
  shellForm: boolean;
  heredocs: Heredoc[];
}

export interface RunCommand extends CommandBase, CommandLine {
  kind: 'run';
  /** `--mount` values, raw: parsed (with variables expanded) by `parseMount`. */
  mounts: string[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
}

export interface CopyLikeFlags {
  chown?: string;
  chmod?: string;
  link: boolean;
  exclude: string[];
}

export interface CopyCommand extends CommandBase, CopyLikeFlags {
  kind: 'copy';
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  from?: string;
  parents: boolean;
}

export interface AddCommand extends CommandBase, CopyLikeFlags {
  kind: 'add';
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  checksum?: string;
  keepGitDir: boolean;
  /** Undefined: unpack local archives only (Docker's default). */
  unpack?: boolean;
}

export interface EnvCommand extends CommandBase {
  kind: 'env';
  pairs: KeyValue[];
  /** Written as `ENV key value` (one pair, no `=`), the legacy form. */
  legacy: boolean;
}

export interface ArgCommand extends CommandBase {
  kind: 'arg';
  args: Array<{ key: string; value?: string }>;
}

export interface LabelCommand extends CommandBase {
  kind: 'label';
  pairs: KeyValue[];
  /** Written as `LABEL key value` (one pair, no `=`), the legacy form. */
  legacy: boolean;
}

export interface ExposeCommand extends CommandBase {
  kind: 'expose';
  ports: string[];
}

export interface VolumeCommand extends CommandBase {
  kind: 'volume';
  volumes: string[];
}

export interface UserCommand extends CommandBase {
  kind: 'user';
  user: string;
}

export interface WorkdirCommand extends CommandBase {
  kind: 'workdir';
  path: string;
}

export interface CmdCommand extends CommandBase, CommandLine {
  kind: 'cmd';
}

export interface EntrypointCommand extends CommandBase, CommandLine {
  kind: 'entrypoint';
}

export interface HealthcheckCommand extends CommandBase {
  kind: 'healthcheck';
  /** `["NONE"]`, `["CMD", argv…]` or `["CMD-SHELL", command]`, as the image config stores it. */
  test: string[];
  /** Durations in nanoseconds; undefined = inherit the default. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export interface ShellCommand extends CommandBase {
  kind: 'shell';
  shell: string[];
}

export interface StopsignalCommand extends CommandBase {
  kind: 'stopsignal';
  signal: string;
}

export interface OnbuildCommand extends CommandBase {
  kind: 'onbuild';
  /** The trigger instruction text, e.g. `RUN make`, stored in the image's OnBuild. */
  expression: string;
}

export interface MaintainerCommand extends CommandBase {
  kind: 'maintainer';
  maintainer: string;
}

export type Command =
  | FromCommand
  | RunCommand
  | CopyCommand
  | AddCommand
  | EnvCommand
  | ArgCommand
  | LabelCommand
  | ExposeCommand
  | VolumeCommand
  | UserCommand
  | WorkdirCommand
  | CmdCommand
  | EntrypointCommand
  | HealthcheckCommand
  | ShellCommand
  | StopsignalCommand
  | OnbuildCommand
  | MaintainerCommand;

export type CommandKind = Command['kind'];

/** Every instruction name a Dockerfile may use. */
export const INSTRUCTION_NAMES = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;

/**
 * Instructions whose arguments get `$VAR` expansion (Docker's rule). RUN, CMD and
 * ENTRYPOINT are left to the shell; ONBUILD triggers expand when they run in the child.
 * ARG expands too (BuildKit does, e.g. `ARG B=$A`).
 */
export const EXPANDING_INSTRUCTIONS: ReadonlySet<string> = new Set([
  'ADD',
  'ARG',
  'COPY',
  'ENV',
  'EXPOSE',
  'FROM',
  'LABEL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);
