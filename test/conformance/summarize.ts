/**
 * A timestamp-free summary of an image saved as a docker archive (`docker save`, or
 * tbuild's `-o type=docker`): the parts of the config the conformance suite compares, and
 * every file of the flattened filesystem with its type, mode, owner and content digest.
 * Shared by the recorder (scripts/conformance-record.ts) and the test, so that Docker's
 * image and tbuild's image are judged by the same code.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { extract, list } from 'tar';
import type { ReadEntry } from 'tar';

export interface FileSummary {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';
  /** Permission bits with setuid/setgid/sticky, as 4 octal digits, e.g. "0755", "4755". */
  mode: string;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  link?: string;
  /** For the second and later names of a hard-linked file: the first name (sorted order). */
  hardlinkTo?: string;
  /** "major:minor" for device nodes. */
  device?: string;
}

export type FileMap = Record<string, FileSummary>;

export interface ConfigSummary {
  Env: unknown;
  Cmd: unknown;
  Entrypoint: unknown;
  WorkingDir: unknown;
  User: unknown;
  ExposedPorts: unknown;
  Labels: unknown;
  Volumes: unknown;
  StopSignal: unknown;
  Healthcheck: unknown;
  Shell: unknown;
  OnBuild: unknown;
}

/** One history entry a build step wrote: its text, and whether it made a layer. */
export interface HistorySummary {
  created_by: string;
  empty_layer: boolean;
  comment?: string;
}

export interface ImageSummary {
  config: ConfigSummary;
  /**
   * The history entries Dockerfile instructions wrote (comment `buildkit.dockerfile.v0`;
   * not those of a base made by `docker import` or `tbuild import`), without their times.
   */
  history: HistorySummary[];
  /** Files that differ from the baseline (all files when no baseline is given). */
  files: FileMap;
  /** Baseline paths that no longer exist in the image. */
  removedFromBase?: string[];
}

export interface SummarizeOptions {
  /** Files of the base image: equal entries are left out, removed ones are listed. */
  baseline?: FileMap;
}

const CONFIG_KEYS: (keyof ConfigSummary)[] = [
  'Env',
  'Cmd',
  'Entrypoint',
  'WorkingDir',
  'User',
  'ExposedPorts',
  'Labels',
  'Volumes',
  'StopSignal',
  'Healthcheck',
  'Shell',
  'OnBuild',
];

interface ArchiveManifestEntry {
  Config: string;
  Layers: string[];
}

/** Summarize the first image of a docker-archive tarball. */
export async function summarizeDockerArchive(
  archive: string,
  options: SummarizeOptions = {},
): Promise<ImageSummary> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-summary-'));
  try {
    await extract({ file: archive, cwd: dir, preservePaths: false });
    const manifest = JSON.parse(
      await readFile(path.join(dir, 'manifest.json'), 'utf8'),
    ) as ArchiveManifestEntry[];
    const [image] = manifest;
    if (!image) throw new Error(`${archive}: manifest.json lists no image`);
    const config = JSON.parse(await readFile(path.join(dir, image.Config), 'utf8')) as {
      config?: Record<string, unknown>;
      history?: Array<{ created_by?: string; empty_layer?: boolean; comment?: string }>;
    };
    const files: FileMap = {};
    for (const layer of image.Layers) await applyLayer(files, path.join(dir, layer));
    canonicalizeHardlinks(files);
    const history = summarizeHistory(config.history ?? []);
    return sortKeys({
      ...buildSummary(summarizeConfig(config.config ?? {}), files, options),
      history,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The flattened files of a root filesystem tarball (used for the busybox baseline). */
export async function summarizeRootfsTar(file: string): Promise<FileMap> {
  const files: FileMap = {};
  await applyLayer(files, file);
  canonicalizeHardlinks(files);
  return files;
}

/** The comment BuildKit (and tbuild) gives the history entry of a Dockerfile instruction. */
const DOCKERFILE_STEP = 'buildkit.dockerfile.v0';

function summarizeHistory(
  entries: Array<{ created_by?: string; empty_layer?: boolean; comment?: string }>,
): HistorySummary[] {
  return entries.flatMap((h) =>
    h.created_by === undefined || h.comment !== DOCKERFILE_STEP
      ? []
      : [
          {
            created_by: h.created_by,
            empty_layer: h.empty_layer === true,
            ...(h.comment ? { comment: h.comment } : {}),
          },
        ],
  );
}

function buildSummary(
  config: ConfigSummary,
  files: FileMap,
  options: SummarizeOptions,
): Omit<ImageSummary, 'history'> {
  const base = options.baseline;
  if (!base) return { config, files };
  const changed: FileMap = {};
  for (const [p, f] of Object.entries(files)) {
    if (!isDeepStrictEqualJson(base[p], f)) changed[p] = f;
  }
  const removed = Object.keys(base)
    .filter((p) => !(p in files))
    .sort();
  return { config, files: changed, ...(removed.length ? { removedFromBase: removed } : {}) };
}

/** Empty and missing values mean the same to a container runtime: make them all null. */
function summarizeConfig(config: Record<string, unknown>): ConfigSummary {
  const out = {} as Record<keyof ConfigSummary, unknown>;
  for (const key of CONFIG_KEYS) {
    const value = config[key];
    const emptyObject =
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.keys(value).length === 0;
    out[key] = value === undefined || value === '' || emptyObject ? null : value;
  }
  return out as ConfigSummary;
}

interface PendingEntry {
  path: string;
  summary?: FileSummary;
  hardlinkTarget?: string;
}

/**
 * Apply one layer: whiteouts and opaque markers first (they hide lower layers only, wherever
 * they sit in the tar), then the layer's entries in order.
 */
async function applyLayer(files: FileMap, layerFile: string): Promise<void> {
  const entries = await readLayerEntries(layerFile);
  for (const entry of entries) {
    const base = path.posix.basename(entry.path);
    const parent = path.posix.dirname(entry.path);
    if (base === '.wh..wh..opq') removeChildren(files, parent);
    else if (base.startsWith('.wh.')) {
      const victim = path.posix.join(parent, base.slice(4));
      delete files[victim];
      removeChildren(files, victim);
    }
  }
  for (const entry of entries) {
    if (path.posix.basename(entry.path).startsWith('.wh.')) continue;
    if (entry.hardlinkTarget !== undefined) {
      const target = files[entry.hardlinkTarget];
      if (!target)
        throw new Error(`${layerFile}: ${entry.path} links to missing ${entry.hardlinkTarget}`);
      files[entry.path] = { ...target, hardlinkTo: target.hardlinkTo ?? entry.hardlinkTarget };
      continue;
    }
    const summary = entry.summary as FileSummary;
    const existing = files[entry.path];
    // A directory entry over an existing directory changes its metadata, not its children.
    if (summary.type !== 'dir' || existing?.type !== 'dir') removeChildren(files, entry.path);
    files[entry.path] = summary;
  }
}

function removeChildren(files: FileMap, dir: string): void {
  const prefix = dir === '/' ? '/' : dir + '/';
  for (const p of Object.keys(files)) if (p.startsWith(prefix)) delete files[p];
}

const TYPES: Record<string, FileSummary['type']> = {
  File: 'file',
  OldFile: 'file',
  ContiguousFile: 'file',
  Directory: 'dir',
  SymbolicLink: 'symlink',
  CharacterDevice: 'char',
  BlockDevice: 'block',
  FIFO: 'fifo',
};

async function readLayerEntries(layerFile: string): Promise<PendingEntry[]> {
  const entries: PendingEntry[] = [];
  // list() resolves once every entry has been read (a bare Parser can finish early).
  // An empty layer may be just the end-of-archive zero blocks, which node-tar rejects.
  // (tbuild compresses layers, so look inside a small gzip too.)
  if ((await stat(layerFile)).size <= 10240) {
    let bytes = await readFile(layerFile);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    if (bytes.every((b) => b === 0)) return entries;
  }
  const problems: string[] = [];
  await list({
    file: layerFile,
    // Docker 20.10 writes some whiteouts with a stale linkname copied from an earlier
    // header; node-tar refuses such entries. A whiteout carries no data: keep its path.
    onwarn: (code: string, message: string, data: Record<string, unknown>) => {
      const headerPath = (data.header as { path?: string } | undefined)?.path;
      if (headerPath && path.posix.basename(headerPath).startsWith('.wh.')) {
        entries.push({ path: normalizePath(headerPath) });
      } else problems.push(`${code}: ${String(message)}`);
    },
    onReadEntry: (entry: ReadEntry) => {
      const p = normalizePath(entry.path);
      if (p === '/') {
        entry.resume();
        return;
      }
      if (entry.type === 'Link') {
        entries.push({ path: p, hardlinkTarget: normalizePath(entry.linkpath ?? '') });
        entry.resume();
        return;
      }
      const type = TYPES[entry.type];
      if (!type) throw new Error(`${layerFile}: ${p} has unsupported tar type ${entry.type}`);
      const summary: FileSummary = {
        type,
        mode: ((entry.mode ?? 0) & 0o7777).toString(8).padStart(4, '0'),
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
      };
      if (type === 'symlink') summary.link = entry.linkpath ?? '';
      if (type === 'char' || type === 'block') {
        summary.device = `${String(entry.header.devmaj ?? 0)}:${String(entry.header.devmin ?? 0)}`;
      }
      entries.push({ path: p, summary });
      if (type !== 'file') {
        entry.resume();
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      entry.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
      });
      entry.on('end', () => {
        summary.size = size;
        summary.sha256 = hash.digest('hex');
      });
    },
  });
  if (problems.length) throw new Error(`${layerFile}: unreadable entries: ${problems.join('; ')}`);
  return entries;
}

/** `./a/b/`, `a/b` and `/a/b` all name `/a/b`. */
function normalizePath(p: string): string {
  const clean = path.posix.normalize('/' + p);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

/**
 * Which name of a hard-linked file a tar stores in full depends on walk order; make the
 * summary independent of it: the sorted-first name is the file, the others link to it.
 */
function canonicalizeHardlinks(files: FileMap): void {
  const groups = new Map<string, string[]>();
  for (const [p, f] of Object.entries(files)) {
    if (f.hardlinkTo === undefined) continue;
    let root = f.hardlinkTo;
    for (let next = files[root]?.hardlinkTo; next !== undefined; next = files[root]?.hardlinkTo) {
      root = next;
    }
    const group = groups.get(root) ?? [root];
    group.push(p);
    groups.set(root, group);
  }
  for (const group of groups.values()) {
    const members = group.filter((p) => files[p] !== undefined).sort();
    const [first] = members;
    if (first === undefined) continue;
    const { hardlinkTo: _drop, ...data } = files[first] as FileSummary;
    void _drop;
    files[first] = data;
    for (const p of members.slice(1)) files[p] = { ...data, hardlinkTo: first };
  }
}

function isDeepStrictEqualJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

/** A copy with object keys sorted at every level (arrays keep their order). */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => sortKeys(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    out[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return out as T;
}
