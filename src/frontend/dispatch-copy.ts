/**
 * COPY, ADD and WORKDIR → file ops. Sources come from the shared local context, another
 * stage or an image (COPY --from), a download (ADD <url>) or a git checkout (ADD <git>);
 * heredoc sources are written with mkfile. `--link` copies onto scratch and merges.
 */
import { git, http, merge, scratch } from '../llb/index.ts';
import type { ChownOpt, FileActionSpec, State } from '../llb/index.ts';
import { isDigest } from '../shared/digest.ts';
import { isGitUrl, parseGitUrl } from '../shared/git-url.ts';
import { describeCommand, stageExpander, stepMetadata } from './build-context.ts';
import type { StageContext } from './build-context.ts';
import { InvalidInstructionError } from './errors.ts';
import { resolveFromRef } from './from-ref.ts';
import { addHistory } from './image-config.ts';
import { lintIgnoredSource, lintUndefinedVars, lintWorkdir } from './lint/command-checks.ts';
import type { AddCommand, CopyCommand, WorkdirCommand } from './instructions/types.ts';
import { joinWorkdir, stageWorkdir } from './paths.ts';

type CopyLike = CopyCommand | AddCommand;

/** Lower COPY or ADD. */
export async function dispatchCopy(ctx: StageContext, cmd: CopyLike): Promise<void> {
  const x = stageExpander(ctx, cmd);
  const fail = (message: string, hint: string): never => {
    throw new InvalidInstructionError(`${cmd.name}: ${message}`, { hint, location: cmd.location });
  };
  const sources = cmd.sources.map((s) => x.word(s));
  const rawDest = x.word(cmd.dest);
  if (sources.length > 1 && !rawDest.endsWith('/')) {
    fail(
      `with more than one source file, the destination must be a directory and end with a /`,
      `Write the destination as ${rawDest}/.`,
    );
  }
  const dest = joinWorkdir(stageWorkdir(ctx), rawDest);
  const chown = cmd.chown === undefined ? undefined : parseChown(x.word(cmd.chown));
  // A --chmod that expands to nothing is no --chmod, as in BuildKit.
  const chmod = cmd.chmod === undefined ? '' : x.word(cmd.chmod);
  const mode = chmod === '' ? undefined : parseChmod(chmod, fail);
  const exclude = cmd.exclude.map((e) => x.word(e));
  // --from is not checked for undefined variables (BuildKit expands it on its own).
  const from =
    cmd.kind === 'copy' && cmd.from !== undefined
      ? stageExpander(ctx, cmd).word(cmd.from)
      : undefined;
  const fromState = from === undefined ? undefined : await resolveFromRef(ctx, from, cmd.location);
  const heredocs = new Map(cmd.heredocs.map((h) => [h.name, h]));
  const metadata = stepMetadata(ctx, cmd.location, describeCommand(ctx, cmd));
  const actions: FileActionSpec[] = [];
  for (const src of sources) {
    const heredoc = /^<<-?(["']?)([^"']+)\1$/.exec(src);
    const body = heredoc ? heredocs.get(heredoc[2]!) : undefined;
    const base = { dest, chown, mode, exclude: exclude.length > 0 ? exclude : undefined };
    if (body) {
      const data = body.expand ? x.heredoc(body.content) : body.content;
      const file = scratch().file(
        [{ action: 'mkfile', path: `/${body.name}`, mode: 0o644, data }],
        {
          platform: ctx.platform,
          metadata: { ...metadata, description: `${metadata.description} (heredoc ${body.name})` },
        },
      );
      actions.push(copyAction(file, `/${body.name}`, base, { unpack: false }));
    } else if (cmd.kind === 'add' && isUrl(src)) {
      actions.push(addRemote(ctx, cmd, src, base, fail));
    } else {
      if (fromState === undefined) lintIgnoredSource(ctx, cmd, ctx.build.ignore, src);
      if (cmd.kind === 'add' && cmd.checksum !== undefined) {
        fail(
          '--checksum can only be used with HTTP(S) and git sources',
          'Remove --checksum for local files.',
        );
      }
      const unpack = cmd.kind === 'add' ? (cmd.unpack ?? true) : false;
      const state = fromState ?? ctx.build.context();
      const parents = cmd.kind === 'copy' && cmd.parents;
      actions.push(copyAction(state, joinWorkdir('/', src), base, { unpack, parents }));
    }
  }
  const text = copyHistoryText(
    cmd.name,
    cmd.chown === undefined ? undefined : x.word(cmd.chown),
    chmod,
    sources,
    rawDest,
  );
  if (cmd.link) {
    const copied = scratch().file(actions, { platform: ctx.platform, metadata });
    ctx.fs = merge([ctx.fs, copied], {
      platform: ctx.platform,
      metadata: { ...metadata, description: `${metadata.description} (link)` },
    });
  } else {
    ctx.fs = ctx.fs.file(actions, { platform: ctx.platform, metadata });
  }
  lintUndefinedVars(ctx, cmd, x.unset);
  addHistory(ctx.image, text, true, ctx.build.created);
}

/**
 * The history text of COPY/ADD as BuildKit 28 writes it: `--chown` and `--chmod` (in that
 * order, as given) before the sources, heredocs as `<<NAME` (no `-`, no quotes); --from,
 * --link and the other flags are left out.
 */
function copyHistoryText(
  name: string,
  chown: string | undefined,
  chmod: string,
  sources: readonly string[],
  dest: string,
): string {
  const flags = [...(chown ? [`--chown=${chown}`] : []), ...(chmod ? [`--chmod=${chmod}`] : [])];
  const shown = sources.map((src) => {
    const heredoc = /^<<-?(["']?)([^"']+)\1$/.exec(src);
    return heredoc ? `<<${heredoc[2]!}` : src;
  });
  return [name, ...flags, ...shown, dest].join(' ');
}

interface CopyBase {
  dest: string;
  chown: ChownOpt | undefined;
  mode: number | string | undefined;
  exclude: string[] | undefined;
}

function copyAction(
  from: State,
  src: string,
  base: CopyBase,
  opts: { unpack: boolean; parents?: boolean },
): FileActionSpec {
  const action: FileActionSpec = {
    action: 'copy',
    from,
    src,
    dest: base.dest,
    followSymlinks: true,
    dirContentsOnly: true,
    attemptUnpack: opts.unpack,
    createDestPath: true,
    allowWildcard: true,
    allowEmptyWildcard: true,
  };
  if (base.chown) action.chown = base.chown;
  if (base.mode !== undefined) action.mode = base.mode;
  if (base.exclude) action.exclude = base.exclude;
  if (opts.parents) action.parents = true;
  return action;
}

function isUrl(src: string): boolean {
  return /^(https?|git):\/\//i.test(src) || /^git@[^:]+:/.test(src);
}

/** ADD <url> or ADD <git url>: a source vertex plus a copy out of it. */
function addRemote(
  ctx: StageContext,
  cmd: AddCommand,
  src: string,
  base: CopyBase,
  fail: (message: string, hint: string) => never,
): FileActionSpec {
  const metadata = { description: `[internal] load remote ${src}`, location: cmd.location };
  if (isGitUrl(src)) {
    const { remote, ref, subdir } = parseGitUrl(src);
    const options: Parameters<typeof git>[1] = { metadata };
    if (ref) options.ref = ref;
    if (subdir) options.subdir = subdir;
    if (cmd.keepGitDir) options.keepGitDir = true;
    if (cmd.checksum !== undefined) {
      fail(
        '--checksum for git sources is not supported yet',
        'Pin the commit in the URL instead: <repo>.git#<commit>.',
      );
    }
    // The source checks out the whole tree; `#ref:dir` copies that directory's contents.
    const from = subdir ? `/${subdir.replace(/^\/+/, '')}` : '/';
    return copyAction(git(remote, options), from, base, { unpack: false });
  }
  if (cmd.keepGitDir) fail('--keep-git-dir is only for git sources', 'Remove --keep-git-dir.');
  const options: Parameters<typeof http>[1] = { metadata };
  if (cmd.checksum !== undefined) {
    if (!isDigest(cmd.checksum))
      fail(
        `--checksum=${cmd.checksum} is not a sha256 digest`,
        'Use --checksum=sha256:<64 hex digits>.',
      );
    options.checksum = cmd.checksum as `sha256:${string}`;
  }
  const filename =
    decodeURIComponent(new URL(src).pathname.split('/').filter(Boolean).at(-1) ?? '') ||
    '__unnamed__';
  options.filename = filename;
  const dest = base.dest.endsWith('/') ? `${base.dest}${filename}` : base.dest;
  return copyAction(
    http(src, options),
    `/${filename}`,
    { ...base, dest },
    { unpack: cmd.unpack ?? false },
  );
}

/** `user`, `user:group`, `1000:1000` → ids where numeric, names otherwise. */
export function parseChown(text: string): ChownOpt | undefined {
  if (text === '') return undefined;
  const [user = '', group] = text.split(':', 2);
  const part = (s: string): { id: number } | { name: string } =>
    /^\d+$/.test(s) ? { id: Number(s) } : { name: s };
  const out: ChownOpt = {};
  if (user !== '') out.user = part(user);
  if (group !== undefined && group !== '') out.group = part(group);
  return out;
}

function parseChmod(text: string, fail: (m: string, h: string) => never): number | string {
  if (/^[0-7]{3,4}$/.test(text)) return parseInt(text, 8);
  if (/^([ugoa]*[-+=][rwxXst]*)(,[ugoa]*[-+=][rwxXst]*)*$/.test(text)) return text;
  return fail(
    `invalid --chmod=${text}`,
    'Use an octal mode such as 0755 or a symbolic one such as u+x.',
  );
}

/** WORKDIR: the directory is created (with parents, 0755, owned by USER) and set as the cwd. */
export function dispatchWorkdir(ctx: StageContext, cmd: WorkdirCommand): void {
  const x = stageExpander(ctx, cmd);
  const written = x.word(cmd.path);
  lintUndefinedVars(ctx, cmd, x.unset);
  lintWorkdir(ctx, cmd, written);
  const path = joinWorkdir(stageWorkdir(ctx), written).replace(/(.)\/$/, '$1');
  ctx.image.config.WorkingDir = path;
  const metadata = stepMetadata(ctx, cmd.location, `WORKDIR ${path}`);
  if (path !== '/') {
    const user = ctx.image.config.User;
    const chown = user ? parseChown(user) : undefined;
    ctx.fs = ctx.fs.file(
      [{ action: 'mkdir', path, mode: 0o755, makeParents: true, ...(chown ? { chown } : {}) }],
      { platform: ctx.platform, metadata },
    );
  }
  addHistory(ctx.image, `WORKDIR ${path}`, path !== '/', ctx.build.created, false);
}
