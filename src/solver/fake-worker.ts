/**
 * Test helper: a worker whose ops do arithmetic instead of running containers, so the
 * solver's scheduling, caching and cancellation can be tested in milliseconds.
 *
 * - `num` sources yield a number the test can change between solves (like an image tag
 *   that now resolves to another digest);
 * - `context` sources are uncacheable file maps (like a local build context);
 * - `add` / `mul` combine their inputs after an optional delay; `sum-files` adds the
 *   values of selected files of a context and keys on their content only;
 * - `fail` throws after its delay; `hang` runs until aborted.
 */
import type {
  Definition,
  Digest,
  ExecOp,
  Input,
  Op,
  Vertex,
  VertexMetadata,
} from '../llb/types.ts';
import { digestOf } from '../shared/digest.ts';
import { TbuildError } from '../shared/errors.ts';
import type {
  CacheMap,
  ContentChange,
  OpContext,
  OpHandler,
  PreviousRun,
  ResultCache,
  Worker,
} from './types.ts';

export type FakeValue = number | { files: Record<string, number> };

type ExecKind = 'add' | 'mul' | 'sum-files' | 'fail' | 'hang';

/** Builds a Definition of fake ops; every op's name is its description. */
export class FakeGraph {
  readonly vertices: Record<Digest, Vertex> = {};
  readonly metadata: Record<Digest, VertexMetadata> = {};

  num(name: string): Input {
    return this.#add(name, { type: 'source', source: { type: 'http', url: `num:${name}` } }, []);
  }

  context(name: string): Input {
    return this.#add(name, { type: 'source', source: { type: 'local', name } }, []);
  }

  op(
    kind: ExecKind,
    name: string,
    inputs: Input[],
    options: { delayMs?: number; selectors?: string[]; meta?: Partial<VertexMetadata> } = {},
  ): Input {
    const op: ExecOp = {
      type: 'exec',
      args: [kind, name, String(options.delayMs ?? 0), ...(options.selectors ?? [])],
      env: [],
      cwd: '/',
      user: 'root',
      network: 'none',
      security: 'sandbox',
      mounts: [],
    };
    return this.#add(name, op, inputs, options.meta);
  }

  build(root: Input | null): Definition {
    return { vertices: { ...this.vertices }, metadata: { ...this.metadata }, root };
  }

  /** The digest of the vertex described as `name`. */
  digest(name: string): Digest {
    const found = Object.entries(this.metadata).find(([, m]) => m.description === name);
    if (found === undefined) throw new Error(`no vertex named ${name}`);
    return found[0] as Digest;
  }

  #add(name: string, op: Op, inputs: Input[], meta: Partial<VertexMetadata> = {}): Input {
    const vertex: Vertex = { op, inputs };
    const digest = digestOf(vertex);
    this.vertices[digest] = vertex;
    this.metadata[digest] = { description: name, ...meta };
    return { digest, output: 0 };
  }
}

/** An in-memory result cache that records what was asked of it. */
export class MemoryCache implements ResultCache<FakeValue> {
  readonly entries = new Map<Digest, FakeValue[]>();
  readonly gets: Digest[] = [];
  readonly puts: Digest[] = [];

  async get(key: Digest): Promise<FakeValue[] | undefined> {
    this.gets.push(key);
    return this.entries.get(key);
  }

  async put(key: Digest, results: readonly FakeValue[]): Promise<void> {
    this.puts.push(key);
    this.entries.set(key, [...results]);
  }
}

export interface ExecRecord {
  name: string;
  start: number;
  end?: number;
  aborted?: boolean;
}

/** The fake worker plus what it observed. Tests mutate `numbers` and `files` between solves. */
export class FakeWorker implements Worker<FakeValue> {
  readonly cache: MemoryCache;
  readonly numbers: Record<string, number>;
  readonly files: Record<string, Record<string, number>>;
  readonly execs: ExecRecord[] = [];
  readonly checksums: Array<{ selectors: readonly string[] }> = [];
  /** With `incremental`, each `sum-files` run and the previous run it was offered. */
  readonly offers: Array<{ name: string; previous: PreviousRun<FakeValue> | undefined }> = [];
  /** The files behind each content checksum made, to describe changes between two. */
  readonly #checksummed: Map<Digest, Record<string, number | undefined>>;
  readonly #incremental: boolean;
  readonly #lookUpPrevious: boolean;
  /** How many times the solver asked to describe a content change (history, explanations). */
  describes = 0;
  running = 0;
  maxRunning = 0;

  constructor(
    init: {
      numbers?: Record<string, number>;
      files?: Record<string, Record<string, number>>;
      cache?: MemoryCache;
      /** `sum-files` is offered its previous run (CacheMap.incremental). */
      incremental?: boolean;
      /** Whether `sum-files` looks the offered run up (default true; false: it declines). */
      lookUpPrevious?: boolean;
      /** Files behind content checksums, shared between solves (the store's record index). */
      checksummed?: Map<Digest, Record<string, number | undefined>>;
    } = {},
  ) {
    this.#checksummed = init.checksummed ?? new Map();
    this.#incremental = init.incremental ?? false;
    this.#lookUpPrevious = init.lookUpPrevious ?? true;
    this.numbers = { ...init.numbers };
    this.files = { ...init.files };
    this.cache = init.cache ?? new MemoryCache();
  }

  /** Names of the ops that executed, in start order. */
  get executedNames(): string[] {
    return this.execs.map((e) => e.name);
  }

  handler(vertex: Vertex): OpHandler<FakeValue> {
    const op = vertex.op;
    if (op.type === 'source' && op.source.type === 'http') return this.#numHandler(op.source.url);
    if (op.type === 'source' && op.source.type === 'local')
      return this.#contextHandler(op.source.name);
    if (op.type !== 'exec') throw new Error(`fake worker cannot run ${op.type}`);
    const [kind, name, delay, ...selectors] = op.args as [ExecKind, string, string, ...string[]];
    return {
      cacheMap: async () => ({
        digest: digestOf(op),
        deps: kind === 'sum-files' ? [{ contentSelectors: selectors }] : undefined,
        ...(kind === 'sum-files' && this.#incremental && { incremental: true }),
      }),
      exec: async (ctx, inputs, lookUp) => {
        if (kind === 'sum-files' && this.#incremental)
          this.offers.push({ name, previous: this.#lookUpPrevious ? await lookUp?.() : undefined });
        return this.#run(name, ctx, kind === 'hang' ? 60_000 : Number(delay), () =>
          compute(kind, name, inputs, selectors),
        );
      },
    };
  }

  async contentChecksum(result: FakeValue, selectors: readonly string[]): Promise<Digest> {
    this.checksums.push({ selectors });
    if (typeof result === 'number') throw new Error('not a context');
    const digest = digestOf(selectors.map((s) => [s, result.files[s]]));
    this.#checksummed.set(digest, Object.fromEntries(selectors.map((s) => [s, result.files[s]])));
    return digest;
  }

  async describeContentChange(before: Digest, after: Digest): Promise<ContentChange | undefined> {
    this.describes++;
    const [b, a] = [this.#checksummed.get(before), this.#checksummed.get(after)];
    if (!b || !a) return undefined;
    const names = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
    return {
      added: names.filter((n) => b[n] === undefined && a[n] !== undefined),
      removed: names.filter((n) => b[n] !== undefined && a[n] === undefined),
      modified: names.filter((n) => b[n] !== undefined && a[n] !== undefined && a[n] !== b[n]),
    };
  }

  #numHandler(url: string): OpHandler<FakeValue> {
    const name = url.slice('num:'.length);
    return {
      // Like an image source: the key carries the resolved identity, not the tag.
      cacheMap: async (): Promise<CacheMap> => ({
        digest: digestOf({ name, v: this.numbers[name] }),
      }),
      exec: (ctx) => this.#run(name, ctx, 0, () => [this.numbers[name] ?? 0]),
    };
  }

  #contextHandler(name: string): OpHandler<FakeValue> {
    return {
      cacheMap: async () => ({ digest: digestOf({ context: name }), uncacheable: true }),
      exec: (ctx) => this.#run(name, ctx, 0, () => [{ files: { ...this.files[name] } }]),
    };
  }

  async #run(
    name: string,
    ctx: OpContext,
    delayMs: number,
    compute: () => FakeValue[],
  ): Promise<FakeValue[]> {
    const record: ExecRecord = { name, start: performance.now() };
    this.execs.push(record);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      ctx.log('stdout', `running ${name}\n`);
      await sleep(delayMs, ctx.signal);
      return compute();
    } catch (error) {
      record.aborted = ctx.signal.aborted;
      throw error;
    } finally {
      record.end = performance.now();
      this.running--;
    }
  }
}

function compute(
  kind: ExecKind,
  name: string,
  inputs: readonly FakeValue[],
  selectors: string[],
): FakeValue[] {
  const nums = inputs.filter((v): v is number => typeof v === 'number');
  switch (kind) {
    case 'add':
      return [nums.reduce((a, b) => a + b, 0)];
    case 'mul':
      return [nums.reduce((a, b) => a * b, 1)];
    case 'sum-files': {
      const ctx = inputs[0];
      if (ctx === undefined || typeof ctx === 'number')
        throw new Error('sum-files needs a context');
      return [selectors.reduce((sum, s) => sum + (ctx.files[s] ?? 0), 0)];
    }
    case 'fail':
      throw new TbuildError('TBUILD_TEST_FAILED', `${name} exploded`, { hint: 'do not explode' });
    case 'hang':
      return [0];
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
