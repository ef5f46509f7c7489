/**
 * How progress names each step, as BuildKit's processCmdEnv does: the instruction as
 * written, variables it knows expanded; for RUN, quotes and unknown variables are kept and
 * secret env values masked. Expected titles are what Docker 28.5 shows for this Dockerfile.
 */
import { describe, expect, it } from 'vitest';
import { descriptions, lower } from './testing/lower.ts';

const DOCKERFILE = `FROM busybox
ARG FOO=bar
ENV BAZ=qux
RUN for i in 1 2; do echo "line $i"; done
RUN echo $FOO $UNKNOWN \${BAZ} '$BAZ' "$BAZ" \\$BAZ && echo a\\ b
RUN --mount=type=secret,id=s,env=SEC echo $SEC
RUN echo "multi" && \\
    echo line2
RUN ["echo", "$FOO"]
COPY --chmod=644 Dockerfile /d$FOO
WORKDIR /w$FOO
RUN <<EOT
echo "hi $X"
EOT
RUN <<EOT
echo one
echo two
EOT
`;

async function titles(dockerfile: string): Promise<string[]> {
  const { definition } = await lower(dockerfile);
  return descriptions(definition)
    .filter((d) => !d.startsWith('[internal]') && !d.includes('FROM '))
    .map((d) => d.replace(/^\[[^\]]*\] /, ''));
}

describe('step titles', () => {
  it('keep the source text and expand only the variables BuildKit knows', async () => {
    expect(await titles(DOCKERFILE)).toEqual([
      'RUN for i in 1 2; do echo "line $i"; done',
      `RUN echo bar $UNKNOWN qux '$BAZ' "qux" $BAZ && echo a b`,
      'RUN --mount=type=secret,id=s,env=SEC echo ****',
      'RUN echo "multi" &&     echo line2',
      'RUN ["echo", "bar"]',
      'COPY --chmod=644 Dockerfile /dbar',
      'WORKDIR /wbar',
      'RUN <<EOT (echo "hi $X")',
      'RUN <<EOT (echo one...)',
    ]);
  });

  it('upper-case the instruction name as written in lower case', async () => {
    expect(await titles('from busybox\nrun echo lower\n')).toEqual(['RUN echo lower']);
  });
});

/** Step titles with their `[stage n/N]` prefixes, in graph order, without the context load. */
async function prefixed(dockerfile: string, target?: string): Promise<string[]> {
  const { definition } = await lower(dockerfile, target === undefined ? {} : { target });
  return descriptions(definition)
    .filter((d) => !d.startsWith('[internal]'))
    .map((d) => d.replace(/ FROM (\S+?)(@sha256:\w+)?$/, ' FROM $1'));
}

describe('step counters', () => {
  it('count FROM only for an image base, as BuildKit does', async () => {
    const dockerfile = [
      'FROM busybox AS base',
      'RUN echo base',
      'FROM scratch AS s',
      'COPY Dockerfile /',
      'FROM base',
      'COPY --from=s /Dockerfile /x',
      'WORKDIR /app',
      'RUN echo done',
      '',
    ].join('\n');
    expect((await prefixed(dockerfile)).sort()).toEqual(
      [
        '[base 1/2] FROM docker.io/library/busybox:latest',
        '[base 2/2] RUN echo base',
        '[s 1/1] COPY Dockerfile /',
        '[stage-2 1/3] COPY --from=s /Dockerfile /x',
        '[stage-2 2/3] WORKDIR /app',
        '[stage-2 3/3] RUN echo done',
      ].sort(),
    );
  });

  it('count ONBUILD triggers and name them so', async () => {
    const fromStage = [
      'FROM busybox AS base',
      'ONBUILD ENV X=1',
      'ONBUILD RUN echo onb',
      'RUN echo base',
      'FROM base AS child',
      'RUN echo child',
      '',
    ].join('\n');
    expect(await prefixed(fromStage)).toEqual([
      '[base 1/2] FROM docker.io/library/busybox:latest',
      '[base 2/2] RUN echo base',
      '[child 1/3] ONBUILD RUN echo onb',
      '[child 2/3] RUN echo child',
    ]);
    expect(await prefixed('FROM onbuild:1\nRUN echo x\n')).toEqual([
      '[1/4] FROM docker.io/library/onbuild:1',
      '[2/4] ONBUILD RUN echo triggered',
      '[3/4] ONBUILD WORKDIR /built',
      '[4/4] RUN echo x',
    ]);
  });

  it('name the only stage stage-0 once a mount or COPY --from names another source', async () => {
    expect(await prefixed('FROM busybox\nRUN echo hi\n')).toEqual([
      '[1/2] FROM docker.io/library/busybox:latest',
      '[2/2] RUN echo hi',
    ]);
    expect(await prefixed('FROM busybox\nRUN --mount=type=secret,id=s echo hi\n')).toEqual([
      '[stage-0 1/2] FROM docker.io/library/busybox:latest',
      '[stage-0 2/2] RUN --mount=type=secret,id=s echo hi',
    ]);
  });
});
