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
