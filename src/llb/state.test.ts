import { describe, expect, it } from 'vitest';
import {
  findOrderViolations,
  image,
  local,
  marshal,
  merge,
  scratch,
  vertexDigest,
} from './index.ts';
import type { Vertex } from './index.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };

function runMake(base = image('docker.io/library/alpine:3.20', amd64)) {
  return base.run({
    args: ['/bin/sh', '-c', 'make'],
    env: ['PATH=/bin'],
    cwd: '/',
    user: 'root',
    network: 'default',
    security: 'sandbox',
    metadata: { description: 'RUN make' },
  });
}

describe('vertexDigest', () => {
  it('does not depend on the order of object keys', () => {
    const a: Vertex = { op: { type: 'merge' }, inputs: [], platform: amd64 };
    const b = {
      platform: { architecture: 'amd64', os: 'linux' },
      inputs: [],
      op: { type: 'merge' },
    } as Vertex;
    expect(vertexDigest(a)).toBe(vertexDigest(b));
  });

  it('changes when the op changes but not when only metadata does', () => {
    const one = image('docker.io/library/alpine:3.20', amd64, { metadata: { description: 'a' } });
    const two = image('docker.io/library/alpine:3.20', amd64, { metadata: { description: 'b' } });
    const other = image('docker.io/library/alpine:3.19', amd64);
    expect(one.node!.digest).toBe(two.node!.digest);
    expect(one.node!.digest).not.toBe(other.node!.digest);
  });
});

describe('marshal', () => {
  it('lists inputs before the vertices that use them', () => {
    const ctx = local('context');
    const built = runMake().file([
      {
        action: 'copy',
        from: ctx,
        src: '/app',
        dest: '/app',
        followSymlinks: true,
        dirContentsOnly: false,
        attemptUnpack: false,
        createDestPath: true,
        allowWildcard: true,
        allowEmptyWildcard: true,
      },
    ]);
    const def = marshal(built);
    expect(Object.keys(def.vertices)).toHaveLength(4);
    expect(findOrderViolations(def)).toEqual([]);
    expect(def.root).toEqual({ digest: built.node!.digest, output: 0 });
    const last = Object.values(def.vertices).at(-1)!;
    expect(last.op.type).toBe('file');
  });

  it('stores identical subgraphs built twice only once', () => {
    const left = runMake();
    const right = runMake();
    expect(left.node!.digest).toBe(right.node!.digest);
    const def = marshal(
      merge([left, right.file([{ action: 'mkdir', path: '/x', mode: 0o755, makeParents: true }])]),
    );
    const types = Object.values(def.vertices).map((v) => v.op.type);
    expect(types).toEqual(['source', 'exec', 'file', 'merge']);
  });

  it('gives a scratch result a null root and no vertices', () => {
    const def = marshal(scratch());
    expect(def).toEqual({ vertices: {}, metadata: {}, root: null });
  });

  it('adds shared metadata such as ignoreCache to every vertex', () => {
    const def = marshal(runMake(), { ignoreCache: true });
    expect(Object.values(def.metadata).every((m) => m.ignoreCache)).toBe(true);
    expect(Object.values(def.metadata).map((m) => m.description)).toEqual(['', 'RUN make']);
  });
});

describe('State', () => {
  it('never changes the state an operation started from', () => {
    const base = image('docker.io/library/alpine:3.20', amd64);
    const before = base.node!.digest;
    runMake(base);
    expect(base.node!.digest).toBe(before);
    expect(Object.isFrozen(base)).toBe(true);
  });

  it('shares one input index between mounts of the same state', () => {
    const ctx = local('context');
    const run = scratch().run({
      args: ['true'],
      env: [],
      cwd: '/',
      user: '',
      network: 'none',
      security: 'sandbox',
      mounts: [
        { type: 'bind', dest: '/a', from: ctx, readonly: true },
        { type: 'bind', dest: '/b', from: ctx, readonly: true },
        { type: 'tmpfs', dest: '/tmp', readonly: false },
      ],
    });
    const op = run.node!.vertex.op;
    expect(run.node!.vertex.inputs).toHaveLength(1);
    expect(op.type === 'exec' && op.mounts.map((m) => m.input)).toEqual([null, 0, 0, null]);
  });

  it('drops scratch from a merge and collapses a merge of one state', () => {
    const a = image('docker.io/library/alpine:3.20', amd64);
    expect(merge([scratch(), a])).toBe(a);
    expect(merge([scratch()]).isScratch).toBe(true);
  });
});
