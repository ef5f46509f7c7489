/** RUN → exec op: shell wrapping, heredocs, environment, mounts. */
import { scratch } from '../llb/index.ts';
import type { RunMount } from '../llb/index.ts';
import { describeRun, stageExpander, stepMetadata } from './build-context.ts';
import type { StageContext } from './build-context.ts';
import { commandLineArgs, proxyEnv } from './dispatch-config.ts';
import { resolveFromRef } from './from-ref.ts';
import { addHistory, getEnv } from './image-config.ts';
import { lintUndefinedVars } from './lint/command-checks.ts';
import { parseMount } from './instructions/mounts.ts';
import type { MountSpec } from './instructions/mounts.ts';
import type { RunCommand } from './instructions/types.ts';
import { EntitlementError } from './errors.ts';
import type { Entitlement } from './types.ts';
import { joinWorkdir, stageWorkdir } from './paths.ts';

/** Lower a RUN instruction onto the stage's filesystem. */
export async function dispatchRun(ctx: StageContext, cmd: RunCommand): Promise<void> {
  checkEntitlements(ctx, cmd);
  const x = stageExpander(ctx, cmd);
  const extraMounts: RunMount[] = [];
  const args = runArgs(ctx, cmd, extraMounts);
  let sshMounts = 0;
  let sshSocket: string | undefined;
  const secretEnvs: string[] = [];
  for (const raw of cmd.mounts) {
    const spec = parseMount(raw, x.word, cmd.location);
    if (spec.type === 'secret' && spec.env !== undefined) secretEnvs.push(spec.env);
    if (spec.type === 'ssh') {
      // As BuildKit's LLB does: numbered default targets, SSH_AUTH_SOCK at the first one.
      if (!spec.target) spec.target = `/run/buildkit/ssh_agent.${sshMounts}`;
      sshMounts++;
    }
    const mount = await lowerMount(ctx, spec, cmd);
    if (spec.type === 'ssh') sshSocket ??= mount.dest;
    extraMounts.push(mount);
  }
  lintUndefinedVars(ctx, cmd, x.unset);
  const env = runEnv(ctx);
  if (sshSocket !== undefined && getEnv(env, 'SSH_AUTH_SOCK') === undefined)
    env.push(`SSH_AUTH_SOCK=${sshSocket}`);
  const heredoc = isSingleHeredoc(cmd) ? cmd.heredocs[0]!.content : undefined;
  const title = describeRun(ctx, cmd, {
    secretEnvs,
    ...(heredoc !== undefined ? { heredoc } : {}),
  });
  const metadata = stepMetadata(ctx, cmd.location, title);
  const { extraHosts, shmSize, ulimits } = ctx.build.opts;
  ctx.fs = ctx.fs.run({
    ...(extraHosts?.length ? { extraHosts } : {}),
    ...(shmSize !== undefined ? { shmSize } : {}),
    ...(ulimits?.length ? { ulimits } : {}),
    args,
    env,
    cwd: stageWorkdir(ctx),
    user: ctx.image.config.User ?? '',
    network: cmd.network ?? ctx.build.opts.forceNetwork ?? 'default',
    security: cmd.security ?? 'sandbox',
    mounts: extraMounts,
    platform: ctx.platform,
    metadata,
  });
  addHistory(ctx.image, `RUN ${runCommandString(ctx, args)}`, true, ctx.build.created);
}

/** RUN --network=host and --security=insecure need `--allow`, as in buildx. */
function checkEntitlements(ctx: StageContext, cmd: RunCommand): void {
  const granted = ctx.build.opts.entitlements;
  if (granted === undefined) return;
  const need = (entitlement: Entitlement, flag: string) => {
    if (granted.includes(entitlement)) return;
    throw new EntitlementError(
      entitlement,
      `RUN ${flag} needs the ${entitlement} entitlement, which this build does not grant`,
      {
        location: cmd.location,
        hint: `Build with --allow ${entitlement} if you trust this Dockerfile, or remove ${flag}.`,
      },
    );
  };
  if (cmd.network === 'host') need('network.host', '--network=host');
  if (cmd.security === 'insecure') need('security.insecure', '--security=insecure');
}

/** argv for the exec op. Heredocs become part of the shell script, as BuildKit does it. */
function runArgs(ctx: StageContext, cmd: RunCommand, mounts: RunMount[]): string[] {
  if (cmd.heredocs.length === 0 || !cmd.shellForm)
    return commandLineArgs(ctx, cmd.cmd, cmd.shellForm);
  const line = cmd.cmd.join(' ');
  const first = cmd.heredocs[0]!;
  const simple = isSingleHeredoc(cmd);
  if (simple && first.content.startsWith('#!')) {
    // A script with its own interpreter: mount it as a file and run that file.
    const script = scratch().file(
      [{ action: 'mkfile', path: `/${first.name}`, mode: 0o755, data: first.content }],
      {
        platform: ctx.platform,
      },
    );
    mounts.push({ type: 'bind', dest: '/dev/pipes/', from: script, readonly: true });
    return commandLineArgs(ctx, [`/dev/pipes/${first.name}`], true);
  }
  if (simple) return commandLineArgs(ctx, [first.content], true);
  let full = line;
  for (const heredoc of cmd.heredocs) full += `\n${heredoc.content}${heredoc.name}`;
  return commandLineArgs(ctx, [full], true);
}

/** `RUN <<EOF` and nothing else on the line: the heredoc is the script. */
function isSingleHeredoc(cmd: RunCommand): boolean {
  return (
    cmd.shellForm &&
    cmd.heredocs.length === 1 &&
    /^<<-?(["']?)[^\s"']+\1$/.test(cmd.cmd.join(' ').trim())
  );
}

/** The build state's environment (ENV and ARG values), then proxies; none stored in the image. */
function runEnv(ctx: StageContext): string[] {
  const env = [...ctx.env];
  for (const proxy of proxyEnv(ctx)) {
    if (getEnv(env, proxy.slice(0, proxy.indexOf('='))) === undefined) env.push(proxy);
  }
  return env;
}

/** BuildKit's history text: `|2 A=1 B=2 /bin/sh -c make` when ARGs are in scope. */
function runCommandString(ctx: StageContext, args: readonly string[]): string {
  const pairs = [...ctx.args].map(
    ([key, value]) => `${key}=${getEnv(ctx.env, key) ?? value ?? ''}`,
  );
  const prefix = pairs.length > 0 ? [`|${pairs.length}`, ...pairs] : [];
  return [...prefix, ...args].join(' ');
}

async function lowerMount(ctx: StageContext, spec: MountSpec, cmd: RunCommand): Promise<RunMount> {
  // A secret given only as env= has no file: an empty dest tells the engine not to mount one.
  const dest = spec.target ? joinWorkdir(stageWorkdir(ctx), spec.target) : '';
  const mount: RunMount = { type: spec.type, dest, readonly: spec.readonly };
  if (spec.type === 'bind' || spec.type === 'cache') {
    if (spec.from !== undefined) mount.from = await resolveFromRef(ctx, spec.from, cmd.location);
    else if (spec.type === 'bind') mount.from = ctx.build.context();
    if (spec.source !== undefined) mount.selector = joinWorkdir('/', spec.source);
  }
  if (spec.type === 'cache') {
    mount.cache = { id: spec.id!, sharing: spec.sharing ?? 'shared', mode: spec.mode ?? 0o755 };
    if (spec.uid !== undefined) mount.cache.uid = spec.uid;
    if (spec.gid !== undefined) mount.cache.gid = spec.gid;
  } else if (spec.type === 'tmpfs') {
    mount.tmpfs = spec.size === undefined ? {} : { size: spec.size };
  } else if (spec.type === 'secret') {
    mount.secret = {
      id: spec.id!,
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      mode: spec.mode ?? 0o400,
      optional: !spec.required,
    };
    if (spec.env !== undefined) mount.secret.env = spec.env;
  } else if (spec.type === 'ssh') {
    mount.ssh = {
      id: spec.id!,
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      mode: spec.mode ?? 0o600,
      optional: !spec.required,
    };
  }
  return mount;
}
