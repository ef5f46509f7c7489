/**
 * ARG and ENV of the same name, as BuildKit resolves them: an ARG with a value (its
 * default, a --build-arg, or a global one) sets the variable that later instructions and
 * RUN see, even over an earlier ENV; the image config's Env keeps the ENV. Expected values
 * are what Docker 28.5 produced for the same Dockerfiles.
 */
import { describe, expect, it } from 'vitest';
import type { Definition, ExecOp } from '../llb/types.ts';
import { lower, opsOf } from './testing/lower.ts';

/** The variables named in `names` as each RUN of the graph sees them, by RUN order. */
function runVars(def: Definition, names: readonly string[]): string[] {
  return opsOf(def, 'exec').map((op: ExecOp) =>
    names
      .map((name) => {
        const entry = op.env.findLast((e) => e.startsWith(`${name}=`));
        return `${name}=${entry === undefined ? '' : entry.slice(name.length + 1)}`;
      })
      .join(' '),
  );
}

const STAGES = `FROM alpine:3.20 AS base
ENV A=env B=env C=env D=env
ARG A=arg
ARG B
ARG C=arg
ARG D=arg
ENV D=env2
ENV E=$A-$C
ARG P=parent
RUN echo base
FROM base AS child
RUN echo child
FROM child
ARG C
RUN echo final
`;
const NAMES = ['A', 'B', 'C', 'D', 'E', 'P'];

describe('ARG after ENV of the same name', () => {
  it('lets --build-arg and ARG defaults win over the earlier ENV in RUN and expansion', async () => {
    const r = await lower(STAGES, { buildArgs: { A: 'cli', B: 'cli' } });
    expect(runVars(r.definition, NAMES)).toEqual([
      'A=cli B=cli C=arg D=env2 E=cli-arg P=parent',
      // A stage built on another re-applies the image's ENV but keeps the other ARGs.
      'A=env B=env C=env D=env2 E=cli-arg P=parent',
      'A=env B=env C=env D=env2 E=cli-arg P=parent',
    ]);
    expect(r.image.config.Env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'A=env',
      'B=env',
      'C=env',
      'D=env2',
      'E=cli-arg',
    ]);
  });

  it('writes the values RUN saw into its history, ARGs of parent stages included', async () => {
    const r = await lower(STAGES, { buildArgs: { A: 'cli', B: 'cli' } });
    const runs = (r.image.history ?? [])
      .map((h) => h.created_by ?? '')
      .filter((c) => c.startsWith('RUN'));
    expect(runs).toEqual([
      'RUN |5 A=cli B=cli C=arg D=env2 P=parent /bin/sh -c echo base # buildkit',
      'RUN |5 A=env B=env C=env D=env2 P=parent /bin/sh -c echo child # buildkit',
      'RUN |5 A=env B=env C=env D=env2 P=parent /bin/sh -c echo final # buildkit',
    ]);
  });

  it('without --build-arg, a default still wins and an ARG without one does not', async () => {
    const r = await lower(STAGES);
    expect(runVars(r.definition, NAMES)[0]).toBe('A=arg B=env C=arg D=env2 E=arg-arg P=parent');
  });

  it('takes a global ARG value for a stage ARG without a default, over ENV', async () => {
    const r = await lower(
      'ARG G=global\nFROM alpine:3.20\nENV G=env A=env\nARG G\nARG H=$A-x\nRUN echo\n',
    );
    expect(runVars(r.definition, ['G', 'H'])).toEqual(['G=global H=env-x']);
    expect(r.image.history?.at(-1)?.created_by).toBe(
      'RUN |2 G=global H=env-x /bin/sh -c echo # buildkit',
    );
    expect(r.image.config.Env).toContain('G=env');
  });
});
