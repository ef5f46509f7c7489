/**
 * Instructions that change only the image config (no filesystem op): ENV, ARG, LABEL,
 * EXPOSE, VOLUME, USER, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD,
 * MAINTAINER. Each adds an `empty_layer` history entry worded like BuildKit's.
 */
import type { HealthConfig } from '../shared/oci.ts';
import { PROXY_ARGS } from './args.ts';
import { stageExpander } from './build-context.ts';
import type { StageContext } from './build-context.ts';
import { InvalidInstructionError } from './errors.ts';
import {
  addHistory,
  formatGoSet,
  formatHealthcheckHistory,
  goQuoteList,
  setEnv,
} from './image-config.ts';
import type { Command } from './instructions/types.ts';

type ConfigCommand = Exclude<Command, { kind: 'from' | 'run' | 'copy' | 'add' | 'workdir' }>;

/** Apply a config-only command to the stage. */
export function dispatchConfig(ctx: StageContext, cmd: ConfigCommand): void {
  const config = ctx.image.config;
  const history = (text: string): void => addHistory(ctx.image, text, false, ctx.build.created);
  const x = stageExpander(ctx, cmd);
  switch (cmd.kind) {
    case 'env': {
      const parts: string[] = [];
      for (const pair of cmd.pairs) {
        // Docker expands every pair with the environment from before the instruction:
        // in `ENV A=1 B=$A`, B gets the old A.
        const key = x.word(pair.key);
        const value = x.word(pair.value);
        parts.push(`${key}=${value}`);
      }
      for (const part of parts) {
        const eq = part.indexOf('=');
        config.Env = setEnv(config.Env, part.slice(0, eq), part.slice(eq + 1));
      }
      history(`ENV ${parts.join(' ')}`);
      return;
    }
    case 'arg':
      return dispatchArg(ctx, cmd, x.word);
    case 'label': {
      const parts: string[] = [];
      config.Labels ??= {};
      for (const pair of cmd.pairs) {
        const key = x.word(pair.key);
        const value = x.word(pair.value);
        config.Labels[key] = value;
        parts.push(`${key}=${value}`);
      }
      history(`LABEL ${parts.join(' ')}`);
      return;
    }
    case 'expose': {
      const ports = cmd.ports.flatMap((p) => x.words(p)).flatMap((p) => parsePortSpec(p, cmd));
      config.ExposedPorts ??= {};
      for (const port of ports) config.ExposedPorts[port] = {};
      history(`EXPOSE ${formatGoSet(ports)}`);
      return;
    }
    case 'volume': {
      const volumes = cmd.volumes.map((v) => x.word(v).trim());
      config.Volumes ??= {};
      for (const v of volumes) {
        if (v === '') {
          throw new InvalidInstructionError('VOLUME specified can not be an empty string', {
            hint: 'Give VOLUME a path, e.g. VOLUME /data.',
            location: cmd.location,
          });
        }
        config.Volumes[v] = {};
      }
      history(`VOLUME [${volumes.join(' ')}]`);
      return;
    }
    case 'user':
      config.User = x.word(cmd.user);
      history(`USER ${config.User}`);
      return;
    case 'cmd':
      config.Cmd = commandLineArgs(ctx, cmd.cmd, cmd.shellForm);
      ctx.cmdSet = true;
      history(`CMD ${goQuoteList(config.Cmd)}`);
      return;
    case 'entrypoint':
      config.Entrypoint = commandLineArgs(ctx, cmd.cmd, cmd.shellForm);
      // An ENTRYPOINT resets a CMD inherited from the base image, but not one set here.
      if (!ctx.cmdSet) config.Cmd = null;
      history(`ENTRYPOINT ${goQuoteList(config.Entrypoint)}`);
      return;
    case 'healthcheck': {
      const health: HealthConfig = { Test: [...cmd.test] };
      if (cmd.interval) health.Interval = cmd.interval;
      if (cmd.timeout) health.Timeout = cmd.timeout;
      if (cmd.startPeriod) health.StartPeriod = cmd.startPeriod;
      if (cmd.startInterval) health.StartInterval = cmd.startInterval;
      if (cmd.retries) health.Retries = cmd.retries;
      config.Healthcheck = health;
      history(formatHealthcheckHistory(health));
      return;
    }
    case 'shell':
      ctx.shell = [...cmd.shell];
      config.Shell = [...cmd.shell];
      history(`SHELL [${cmd.shell.join(' ')}]`);
      return;
    case 'stopsignal': {
      const signal = x.word(cmd.signal);
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(signal)) {
        throw new InvalidInstructionError(`STOPSIGNAL: invalid signal "${signal}"`, {
          hint: 'Use a signal name or number, e.g. STOPSIGNAL SIGTERM.',
          location: cmd.location,
        });
      }
      config.StopSignal = signal;
      history(`STOPSIGNAL ${signal}`);
      return;
    }
    case 'onbuild':
      config.OnBuild = [...(config.OnBuild ?? []), cmd.expression];
      history(`ONBUILD ${cmd.expression}`);
      return;
    case 'maintainer':
      ctx.image.author = cmd.maintainer;
      history(`MAINTAINER ${cmd.maintainer}`);
      return;
  }
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
  expand: (s: string) => string,
): void {
  const build = ctx.build;
  const shown: string[] = [];
  for (const arg of cmd.args) {
    const key = expand(arg.key);
    let value: string | undefined = arg.value === undefined ? undefined : expand(arg.value);
    shown.push(value === undefined ? key : `${key}=${value}`);
    if (value === undefined) value = build.globalArgs.get(key);
    if (Object.hasOwn(build.opts.buildArgs, key)) {
      value = build.opts.buildArgs[key];
      build.usedBuildArgs.add(key);
    }
    ctx.args.set(key, value);
  }
  addHistory(ctx.image, `ARG ${shown.join(' ')}`, false, build.created);
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
