/**
 * LLB: the content-addressed build graph. A Definition is plain data (it can be
 * serialised, sent, cached); the solver runs it without knowing what a Dockerfile is.
 *
 * A vertex's digest is sha256 over the canonical JSON of `{op, inputs, platform}` (see
 * digest.ts); metadata (names, Dockerfile lines) never enters it.
 */
import type { Digest } from '../shared/digest.ts';
import type { SourceLocation } from '../shared/errors.ts';
import type { Platform } from '../shared/platform.ts';

export type { Digest, Platform };

/** One output of a vertex. Exec ops have one output per writable mount; others have one. */
export interface Input {
  digest: Digest;
  output: number;
}

export type Op = SourceOp | ExecOp | FileOp | MergeOp;

// ── source ──────────────────────────────────────────────────────────────────────

export interface ImageSource {
  type: 'image';
  /** Fully qualified reference, e.g. `docker.io/library/alpine:3.20` or `…@sha256:…`. */
  ref: string;
  platform: Platform;
  /** `--pull`: ask the registry even when the store has the image. */
  pull?: boolean;
}

export interface LocalSource {
  type: 'local';
  /** `context`, or the name of a named context. */
  name: string;
  /** .dockerignore patterns, in file order (`!` exceptions included). */
  exclude?: string[];
  /** Only these paths are needed (an optimisation hint; keys still use content selectors). */
  include?: string[];
}

export interface HttpSource {
  type: 'http';
  url: string;
  /** ADD --checksum: the download must match. */
  checksum?: Digest;
  /** File name to save as (default: from the URL or Content-Disposition). */
  filename?: string;
}

export interface GitSource {
  type: 'git';
  remote: string;
  ref?: string;
  subdir?: string;
  keepGitDir?: boolean;
}

export interface SourceOp {
  type: 'source';
  source: ImageSource | LocalSource | HttpSource | GitSource;
}

// ── exec ────────────────────────────────────────────────────────────────────────

export type NetworkMode = 'host' | 'none' | 'default';
export type SecurityMode = 'sandbox' | 'insecure';

export interface ExecMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  /** Absolute path inside the container. The root filesystem is the mount with dest `/`. */
  dest: string;
  /** Index into the vertex's inputs, or null for an empty directory. */
  input: number | null;
  /** Sub-path of the input to mount (bind / cache `source=`). */
  selector?: string;
  readonly: boolean;
  /** The output index this mount's final contents become, or null if discarded. */
  output: number | null;
  cache?: {
    id: string;
    sharing: 'shared' | 'private' | 'locked';
    uid?: number;
    gid?: number;
    mode?: number;
  };
  tmpfs?: { size?: number };
  secret?: { id: string; uid: number; gid: number; mode: number; optional: boolean; env?: string };
  ssh?: { id: string; uid: number; gid: number; mode: number; optional: boolean };
}

export interface ExecOp {
  type: 'exec';
  /** argv, already wrapped in the shell for shell form. */
  args: string[];
  /** `K=V` entries: the image's ENV plus build args in scope. */
  env: string[];
  cwd: string;
  /** `user`, `user:group`, `uid:gid` — resolved against the rootfs at run time. */
  user: string;
  network: NetworkMode;
  security: SecurityMode;
  mounts: ExecMount[];
  /** Heredoc passed as the command's standard input, if any. */
  stdin?: string;
  /** `--add-host`: extra /etc/hosts entries. */
  extraHosts?: ExtraHost[];
  /** `--shm-size`: bytes of /dev/shm (default 64 MiB). */
  shmSize?: number;
  /** `--ulimit`: resource limits of the command. */
  ulimits?: Ulimit[];
}

export interface ExtraHost {
  host: string;
  ip: string;
}

/** A resource limit by its ulimit name (`nofile`, `nproc`, …); -1 is unlimited. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

// ── file ────────────────────────────────────────────────────────────────────────

/** Owner for created files; names are resolved against the destination's /etc/passwd, /etc/group. */
export interface ChownOpt {
  user?: { id: number } | { name: string };
  group?: { id: number } | { name: string };
}

export interface CopyAction {
  action: 'copy';
  /** Index into the vertex's inputs the source path is read from (null = scratch). */
  source: number | null;
  src: string;
  dest: string;
  chown?: ChownOpt;
  /** Octal number, or a symbolic mode string such as `u+x,g-w` (COPY --chmod). */
  mode?: number | string;
  /** Follow a symlink named directly as `src`. */
  followSymlinks: boolean;
  /** Copy a directory's contents, not the directory itself (Docker's COPY dir/ …). */
  dirContentsOnly: boolean;
  /** ADD: extract local tar archives. */
  attemptUnpack: boolean;
  /** Create missing parents of dest. */
  createDestPath: boolean;
  allowWildcard: boolean;
  allowEmptyWildcard: boolean;
  include?: string[];
  exclude?: string[];
  /** COPY --parents: keep the source's parent directories. */
  parents?: boolean;
}

export interface MkdirAction {
  action: 'mkdir';
  path: string;
  mode: number;
  makeParents: boolean;
  chown?: ChownOpt;
}

export interface MkfileAction {
  action: 'mkfile';
  path: string;
  mode: number;
  /** File content, UTF-8. */
  data: string;
  chown?: ChownOpt;
}

export interface RmAction {
  action: 'rm';
  path: string;
  allowNotFound: boolean;
  allowWildcard: boolean;
}

export interface SymlinkAction {
  action: 'symlink';
  target: string;
  path: string;
}

export type FileAction = CopyAction | MkdirAction | MkfileAction | RmAction | SymlinkAction;

export interface FileOp {
  type: 'file';
  /** Input the actions start from, or null for an empty filesystem. */
  base: number | null;
  /** Applied in order; each sees the previous action's result. */
  actions: FileAction[];
}

// ── merge ───────────────────────────────────────────────────────────────────────

/** Layers the inputs on top of each other, in order (COPY --link). */
export interface MergeOp {
  type: 'merge';
}

// ── graph ───────────────────────────────────────────────────────────────────────

export interface Vertex {
  op: Op;
  inputs: Input[];
  platform?: Platform;
}

export interface VertexMetadata {
  /** What progress shows, e.g. `[build 3/5] RUN make`. */
  description: string;
  location?: SourceLocation;
  /** Stage name or index, for --no-cache-filter. */
  stage?: string;
  /** Never use the cache for this vertex (--no-cache / --no-cache-filter). */
  ignoreCache?: boolean;
}

export interface Definition {
  /** Every vertex reachable from `root`, keyed by digest, in topological order (inputs first). */
  vertices: Record<Digest, Vertex>;
  metadata: Record<Digest, VertexMetadata>;
  /** The output the build produces; null for an empty (scratch) result. */
  root: Input | null;
}
