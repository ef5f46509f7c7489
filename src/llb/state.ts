/**
 * The immutable LLB builder. A `State` names one output of a vertex together with the
 * vertices it depends on; every operation returns a new State and never changes the one
 * it started from, so a State can be shared by several branches of a build (as a stage
 * used by two later stages is).
 */
import { digestOf } from '../shared/digest.ts';
import type {
  Digest,
  ExecMount,
  ExecOp,
  FileAction,
  Input,
  Op,
  Platform,
  Vertex,
  VertexMetadata,
} from './types.ts';

/** A vertex in the builder's graph: the plain vertex plus links to the nodes of its inputs. */
export interface GraphNode {
  readonly digest: Digest;
  readonly vertex: Vertex;
  readonly metadata: VertexMetadata | undefined;
  readonly inputs: readonly GraphNode[];
}

/** A mount for `State.run`: like ExecMount, but naming a State instead of an input index. */
export interface RunMount extends Omit<ExecMount, 'input' | 'output'> {
  /** What is mounted; undefined (or scratch) for an empty directory. */
  from?: State;
  /** Keep this mount's final contents as an output (bind rw); default false. */
  keepOutput?: boolean;
}

/** What `State.run` executes; the state it is called on becomes the root mount. */
export interface RunSpec extends Omit<ExecOp, 'type' | 'mounts'> {
  mounts?: RunMount[];
  platform?: Platform;
  metadata?: VertexMetadata;
}

/** A file action for `State.file`: copy actions name their source State instead of an index. */
export type FileActionSpec =
  | Exclude<FileAction, { action: 'copy' }>
  | (Omit<Extract<FileAction, { action: 'copy' }>, 'source'> & { from: State });

/** Options every vertex-creating builder accepts. */
export interface VertexOptions {
  platform?: Platform;
  metadata?: VertexMetadata;
}

/** The digest of a vertex: canonical JSON of `{op, inputs, platform}`; metadata never enters it. */
export function vertexDigest(vertex: Vertex): Digest {
  return digestOf({ op: vertex.op, inputs: vertex.inputs, platform: vertex.platform });
}

/** Create a graph node for an op whose inputs are the given states' outputs. */
export function createNode(
  op: Op,
  inputs: readonly State[],
  options: VertexOptions = {},
): GraphNode {
  const nodes: GraphNode[] = [];
  const refs: Input[] = [];
  for (const state of inputs) {
    if (!state.node) throw new Error('an op input cannot be scratch; use a null input index');
    nodes.push(state.node);
    refs.push({ digest: state.node.digest, output: state.outputIndex });
  }
  const vertex: Vertex = { op, inputs: refs };
  if (options.platform) vertex.platform = { ...options.platform };
  return { digest: vertexDigest(vertex), vertex, metadata: options.metadata, inputs: nodes };
}

/** One output of a vertex (or scratch, the empty filesystem). */
export class State {
  /** Null for scratch. */
  readonly node: GraphNode | null;
  readonly outputIndex: number;

  constructor(node: GraphNode | null, outputIndex = 0) {
    this.node = node;
    this.outputIndex = outputIndex;
    // Subclasses freeze themselves once their own fields are set.
    if (new.target === State) Object.freeze(this);
  }

  /** True for the empty filesystem. */
  get isScratch(): boolean {
    return this.node === null;
  }

  /** The `Input` reference to this output, or null for scratch. */
  get input(): Input | null {
    return this.node ? { digest: this.node.digest, output: this.outputIndex } : null;
  }

  /** Run a command with this state as the root filesystem; returns the new root. */
  run(spec: RunSpec): ExecState {
    return buildExec(this, spec);
  }

  /** Apply file actions (copy, mkdir, mkfile, rm, symlink) on top of this state. */
  file(actions: readonly FileActionSpec[], options: VertexOptions = {}): State {
    const inputs = new InputList();
    const base = inputs.indexOf(this);
    const resolved: FileAction[] = actions.map((a) => {
      if (a.action !== 'copy') return { ...a };
      const { from, ...rest } = a;
      return { ...rest, source: inputs.indexOf(from) };
    });
    return new State(createNode({ type: 'file', base, actions: resolved }, inputs.states, options));
  }
}

/** The result of `State.run`: the new root filesystem plus any kept mount outputs. */
export class ExecState extends State {
  readonly mountOutputs: ReadonlyMap<string, State>;

  constructor(node: GraphNode, mountOutputs: ReadonlyMap<string, State>) {
    super(node, 0);
    this.mountOutputs = mountOutputs;
    Object.freeze(this);
  }

  /** The final contents of a mount created with `keepOutput`. */
  getMount(dest: string): State | undefined {
    return this.mountOutputs.get(dest);
  }
}

/** Collects distinct non-scratch states as op inputs, so equal sources share one index. */
class InputList {
  readonly states: State[] = [];

  indexOf(state: State | undefined): number | null {
    if (!state || !state.node) return null;
    const found = this.states.findIndex(
      (s) => s.node!.digest === state.node!.digest && s.outputIndex === state.outputIndex,
    );
    if (found >= 0) return found;
    this.states.push(state);
    return this.states.length - 1;
  }
}

function buildExec(root: State, spec: RunSpec): ExecState {
  const { mounts = [], platform, metadata, ...exec } = spec;
  const inputs = new InputList();
  const execMounts: ExecMount[] = [
    { type: 'bind', dest: '/', input: inputs.indexOf(root), readonly: false, output: 0 },
  ];
  const kept: string[] = [];
  for (const m of mounts) {
    const { from, keepOutput, ...rest } = m;
    let output: number | null = null;
    if (keepOutput) {
      kept.push(m.dest);
      output = kept.length;
    }
    execMounts.push({ ...rest, input: inputs.indexOf(from), output });
  }
  const op: ExecOp = { type: 'exec', ...exec, mounts: execMounts };
  const options: VertexOptions = {};
  if (platform) options.platform = platform;
  if (metadata) options.metadata = metadata;
  const node = createNode(op, inputs.states, options);
  const outputs = new Map(kept.map((dest, i) => [dest, new State(node, i + 1)]));
  return new ExecState(node, outputs);
}
