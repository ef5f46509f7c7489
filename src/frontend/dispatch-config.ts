/**
 * Instructions that change only the image config (no filesystem op): ENV, ARG, LABEL,
 * EXPOSE, VOLUME, USER, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD,
 * MAINTAINER. Each but ONBUILD adds an `empty_layer` history entry worded like BuildKit 28's.
 */
import type { HealthConfig } from '../shared/oci.ts';
import { PROXY_ARGS } from './args.ts';
import { stageExpander } from './build-context.ts';
import type { StageContext } from './build-context.ts';
import type { Expander } from './expand.ts';
import { InvalidInstructionError } from './errors.ts';
import {
  lintExposedPort,
  lintSecretName,
  lintShellForm,
  lintUndefinedVars,
  lintUsedOnce,
} from './lint/command-checks.ts';
import { MESSAGES } from './lint/rules.ts';
import { addHistory, formatHealthcheckHistory, goQuoteList, setEnv } from './image-config.ts';
import type { Command } from './instructions/types.ts';

type ConfigCommand = Exclude<Command, { kind: 'from' | 'run' | 'copy' | 'add' | 'workdir' }>;

type Handler<K extends ConfigCommand['kind']> = (
  ctx: StageContext,
  cmd: Extract<ConfigCommand, { kind: K }>,
  x: Expander,
) => string | undefined;

/**
 * One handler per instruction: each updates the config and returns the history text (none
 * for ONBUILD, which BuildKit 28 does not record in the history).
 * Expansion uses the scope from before the instruction (`ENV A=1 B=$A` gives B the old A).
 */
const HANDLERS: { [K in ConfigCommand['kind']]: Handler<K> } = {
  env(ctx, cmd, x) {
    const pairs = cmd.pairs.map((p) => [x.word(p.key), x.word(p.value)] as const);
    if (cmd.legacy) lintLegacyKeyValue(ctx, cmd);
    for (const [key, value] of pairs) {
      lintSecretName(ctx, 'ENV', key, cmd.location);
      ctx.image.config.Env = setEnv(ctx.image.config.Env, key, value);
      ctx.env = setEnv(ctx.env, key, value);
    }
    return `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
  },
  arg: (ctx, cmd, x) => dispatchArg(ctx, cmd, x),
  label(ctx, cmd, x) {
    const labels = (ctx.image.config.Labels ??= {});
    const pairs = cmd.pairs.map((p) => [x.word(p.key), x.word(p.value)] as const);
    if (cmd.legacy) lintLegacyKeyValue(ctx, cmd);
    for (const [key, value] of pairs) labels[key] = value;
    return `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`;
  },
  expose(ctx, cmd, x) {
    const raw = cmd.ports.flatMap((p) => x.words(p));
    for (const port of raw) lintExposedPort(ctx, cmd, port);
    const ports = raw.flatMap((p) => parsePortSpec(p, cmd));
    const exposed = (ctx.image.config.ExposedPorts ??= {});
    for (const port of ports) exposed[port] = {};
    // BuildKit 28 writes the ports as a sorted list: `EXPOSE [443/tcp 80/tcp]`.
    return `EXPOSE [${[...new Set(ports)].sort().join(' ')}]`;
  },
  volume(ctx, cmd, x) {
    const volumes = cmd.volumes.map((v) => x.word(v).trim());
    const config = (ctx.image.config.Volumes ??= {});
    for (const v of volumes) {
      if (v === '') {
        throw new InvalidInstructionError('VOLUME specified can not be an empty string', {
          hint: 'Give VOLUME a path, e.g. VOLUME /data.',
          location: cmd.location,
        });
      }
      config[v] = {};
    }
    return `VOLUME [${volumes.join(' ')}]`;
  },
  user(ctx, cmd, x) {
    ctx.image.config.User = x.word(cmd.user);
    return `USER ${ctx.image.config.User}`;
  },
  cmd(ctx, cmd) {
    lintUsedOnce(ctx, 'cmd', cmd);
    lintShellForm(ctx, cmd, cmd.shellForm);
    ctx.image.config.Cmd = commandLineArgs(ctx, cmd.cmd, cmd.shellForm);
    ctx.cmdSet = true;
    return `CMD ${goQuoteList(ctx.image.config.Cmd)}`;
  },
  entrypoint(ctx, cmd) {
    lintUsedOnce(ctx, 'entrypoint', cmd);
    lintShellForm(ctx, cmd, cmd.shellForm);
    ctx.image.config.Entrypoint = commandLineArgs(ctx, cmd.cmd, cmd.shellForm);
    // An ENTRYPOINT resets a CMD inherited from the base image, but not one set here.
    if (!ctx.cmdSet) ctx.image.config.Cmd = null;
    return `ENTRYPOINT ${goQuoteList(ctx.image.config.Entrypoint)}`;
  },
  healthcheck(ctx, cmd) {
    lintUsedOnce(ctx, 'healthcheck', cmd);
    const health: HealthConfig = { Test: [...cmd.test] };
    // Zero means "inherit Docker's default", which the config expresses by omission.
    if (cmd.interval) health.Interval = cmd.interval;
    if (cmd.timeout) health.Timeout = cmd.timeout;
    if (cmd.startPeriod) health.StartPeriod = cmd.startPeriod;
    if (cmd.startInterval) health.StartInterval = cmd.startInterval;
    if (cmd.retries) health.Retries = cmd.retries;
    ctx.image.config.Healthcheck = health;
    return formatHealthcheckHistory(health);
  },
  shell(ctx, cmd) {
    ctx.shell = [...cmd.shell];
    ctx.image.config.Shell = [...cmd.shell];
    return `SHELL [${cmd.shell.join(' ')}]`;
  },
  stopsignal(ctx, cmd, x) {
    const signal = x.word(cmd.signal);
    if (!/^(SIG)?[A-Z0-9+-]+$/i.test(signal)) {
      throw new InvalidInstructionError(`STOPSIGNAL: invalid signal "${signal}"`, {
        hint: 'Use a signal name or number, e.g. STOPSIGNAL SIGTERM.',
        location: cmd.location,
      });
    }
    ctx.image.config.StopSignal = signal;
    return `STOPSIGNAL ${signal}`;
  },
  onbuild(ctx, cmd) {
    ctx.image.config.OnBuild = [...(ctx.image.config.OnBuild ?? []), cmd.expression];
    return undefined;
  },
  maintainer(ctx, cmd) {
    ctx.image.author = cmd.maintainer;
    return `MAINTAINER ${cmd.maintainer}`;
  },
};

/** Apply a config-only command to the stage and record its `empty_layer` history entry. */
export function dispatchConfig(ctx: StageContext, cmd: ConfigCommand): void {
  const handler = HANDLERS[cmd.kind] as Handler<ConfigCommand['kind']>;
  const x = stageExpander(ctx, cmd);
  const text = handler(ctx, cmd, x);
  if (REPORTS_UNDEFINED.has(cmd.kind)) lintUndefinedVars(ctx, cmd, x.unset);
  if (text !== undefined) addHistory(ctx.image, text, false, ctx.build.created);
}

/**
 * Instructions whose expansion BuildKit checks for undefined variables. EXPOSE is expanded
 * without the check; ARG checks its default values itself.
 */
const REPORTS_UNDEFINED: ReadonlySet<ConfigCommand['kind']> = new Set([
  'env',
  'label',
  'user',
  'volume',
  'stopsignal',
]);

function lintLegacyKeyValue(ctx: StageContext, cmd: Command): void {
  ctx.build.lint.run('LegacyKeyValueFormat', cmd.location, MESSAGES.LegacyKeyValueFormat(cmd.name));
}

/** Shell form runs through the stage's SHELL; exec form is used as written. */
export function commandLineArgs(
  ctx: StageContext,
  cmd: readonly string[],
  shellForm: boolean,
): string[] {
  return shellForm ? [...ctx.shell, cmd.join(' ')] : [...cmd];
}

function dispatchArg(
  ctx: StageContext,
  cmd: Extract<Command, { kind: 'arg' }>,
  x: Expander,
): string {
  const build = ctx.build;
  const shown: string[] = [];
  for (const arg of cmd.args) {
    const key = x.word(arg.key);
    lintSecretName(ctx, 'ARG', key, cmd.location);
    const given = Object.hasOwn(build.opts.buildArgs, key);
    let value: string | undefined;
    if (arg.value !== undefined) {
      // A default is expanded (and checked for undefined variables) only when no
      // --build-arg replaces it, as in BuildKit.
      const own = stageExpander(ctx, cmd);
      value = own.word(arg.value);
      if (!given) lintUndefinedVars(ctx, cmd, own.unset);
    }
    if (value === undefined) value = build.globalArgs.get(key);
    if (given) {
      value = build.opts.buildArgs[key];
      build.usedBuildArgs.add(key);
    }
    // The history shows the value the ARG takes, --build-arg or inherited global included.
    shown.push(value === undefined ? key : `${key}=${value}`);
    ctx.args.set(key, value);
    // As BuildKit: the value goes into the build state (over an ENV of the same name),
    // not into the image config.
    if (value !== undefined) ctx.env = setEnv(ctx.env, key, value);
  }
  return `ARG ${shown.join(' ')}`;
}

/** `80`, `80/udp`, `8000-8002/tcp`, `127.0.0.1:80:80` → `80/tcp` keys. */
function parsePortSpec(spec: string, cmd: Command): string[] {
  const fail = (): never => {
    throw new InvalidInstructionError(`EXPOSE: invalid port "${spec}"`, {
      hint: 'Use <port>[/<protocol>] or a range such as 8000-8010/tcp.',
      location: cmd.location,
    });
  };
  const slash = spec.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  const portPart = (slash < 0 ? spec : spec.slice(0, slash)).split(':').at(-1)!;
  if (!['tcp', 'udp', 'sctp'].includes(proto)) fail();
  const m = /^(\d+)(?:-(\d+))?$/.exec(portPart);
  if (!m) return fail();
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (end < start || end > 65535) fail();
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** Proxy ARGs given with --build-arg, which RUN sees without an ARG line. */
export function proxyEnv(ctx: StageContext): string[] {
  const out: string[] = [];
  for (const name of PROXY_ARGS) {
    const value = ctx.build.opts.buildArgs[name];
    if (value !== undefined) out.push(`${name}=${value}`);
  }
  return out;
}
