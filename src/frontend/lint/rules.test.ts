import { describe, expect, it } from 'vitest';
import { checkDockerfile } from '../check.ts';
import { testResolver } from '../testing/lower.ts';
import type { BuildOptions } from '../types.ts';
import { RULES } from './rules.ts';
import type { RuleName } from './rules.ts';

const amd64 = { os: 'linux', architecture: 'amd64' };

/** The rules a Dockerfile trips, as `rule@line: message`. */
async function check(dockerfile: string, opts: Partial<BuildOptions> = {}): Promise<string[]> {
  const result = await checkDockerfile(
    dockerfile,
    { buildArgs: {}, platform: amd64, buildPlatform: amd64, dockerignore: [], ...opts },
    testResolver,
  );
  if (result.error) throw result.error;
  return result.warnings.map((w) => `${w.rule}@${w.location?.range?.start}: ${w.message}`);
}

const of = (rule: RuleName, found: string[]) => found.filter((w) => w.startsWith(`${rule}@`));

/** Per rule: a Dockerfile that trips it (with the expected report) and a near miss that does not. */
const CASES: Array<{
  rule: RuleName;
  bad: string;
  expected: string[];
  good: string;
  opts?: Partial<BuildOptions>;
}> = [
  {
    rule: 'StageNameCasing',
    bad: 'FROM alpine:3.20 AS Build\n',
    expected: ["StageNameCasing@1: Stage name 'Build' should be lowercase"],
    good: 'FROM alpine:3.20 AS build\n',
  },
  {
    rule: 'FromAsCasing',
    bad: 'FROM alpine:3.20 as build\n',
    expected: ["FromAsCasing@1: 'as' and 'FROM' keywords' casing do not match"],
    good: 'from alpine:3.20 as build\n',
  },
  {
    rule: 'NoEmptyContinuation',
    bad: 'FROM alpine:3.20\nRUN echo a \\\n\n  b\n',
    expected: ['NoEmptyContinuation@4: Empty continuation line'],
    good: 'FROM alpine:3.20\nRUN echo a \\\n  b\n',
  },
  {
    rule: 'ConsistentInstructionCasing',
    bad: 'FROM alpine:3.20\nRUN true\nworkdir /x\n',
    expected: [
      "ConsistentInstructionCasing@3: Command 'workdir' should match the case of the command majority (uppercase)",
    ],
    // Global ARGs are not counted: two lower-case commands are the majority.
    good: 'ARG A=1\nARG B=2\nARG C=3\nfrom alpine:3.20\nrun true\n',
  },
  {
    rule: 'DuplicateStageName',
    bad: 'FROM alpine:3.20 AS a\nFROM alpine:3.20 AS a\n',
    expected: ['DuplicateStageName@2: Duplicate stage name "a", stage names should be unique'],
    good: 'FROM alpine:3.20 AS a\nFROM alpine:3.20 AS b\n',
  },
  {
    rule: 'ReservedStageName',
    bad: 'FROM alpine:3.20 AS scratch\n',
    expected: [
      'ReservedStageName@1: Stage name should not use the same name as reserved stage "scratch"',
    ],
    good: 'FROM alpine:3.20 AS scratchpad\n',
  },
  {
    rule: 'JSONArgsRecommended',
    bad: 'FROM alpine:3.20\nENTRYPOINT run-app\n',
    expected: [
      'JSONArgsRecommended@2: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals',
    ],
    good: 'FROM alpine:3.20\nSHELL ["/bin/sh", "-c"]\nENTRYPOINT run-app\n',
  },
  {
    rule: 'MaintainerDeprecated',
    bad: 'FROM alpine:3.20\nMAINTAINER me\n',
    expected: [
      'MaintainerDeprecated@2: Maintainer instruction is deprecated in favor of using label',
    ],
    good: 'FROM alpine:3.20\nLABEL org.opencontainers.image.authors=me\n',
  },
  {
    rule: 'UndefinedArgInFrom',
    bad: 'ARG IMAGE=alpine:3.20\nFROM ${IMAGES:-alpine:3.20}\n',
    expected: [
      "UndefinedArgInFrom@2: FROM argument 'IMAGES' is not declared (did you mean IMAGE?)",
    ],
    good: 'ARG IMAGES\nFROM ${IMAGES:-alpine:3.20}\n',
  },
  {
    rule: 'WorkdirRelativePath',
    bad: 'FROM alpine:3.20\nWORKDIR app\n',
    expected: [
      'WorkdirRelativePath@2: Relative workdir "app" can have unexpected results if the base image changes',
    ],
    // A stage FROM a stage that set an absolute WORKDIR has one.
    good: 'FROM alpine:3.20 AS base\nWORKDIR /app\nFROM base\nWORKDIR sub\n',
  },
  {
    rule: 'UndefinedVar',
    bad: 'FROM alpine:3.20\nENV HOME_DIR=/h\nWORKDIR $HOME_DIRS\n',
    expected: [
      "UndefinedVar@3: Usage of undefined variable '$HOME_DIRS' (did you mean $HOME_DIR?)",
    ],
    // A declared ARG, an ARG of the parent stage, and RUN (the shell's business) are fine.
    good: 'FROM alpine:3.20 AS base\nARG A\nFROM base\nARG B\nCOPY $A$B /x\nRUN echo $NOPE\n',
  },
  {
    rule: 'MultipleInstructionsDisallowed',
    bad: 'FROM alpine:3.20\nHEALTHCHECK NONE\nHEALTHCHECK NONE\n',
    expected: [
      'MultipleInstructionsDisallowed@2: Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used',
    ],
    good: 'FROM alpine:3.20 AS a\nCMD ["a"]\nFROM a\nCMD ["b"]\n',
  },
  {
    rule: 'LegacyKeyValueFormat',
    bad: 'FROM alpine:3.20\nLABEL a b c\n',
    expected: [
      'LegacyKeyValueFormat@2: "LABEL key=value" should be used instead of legacy "LABEL key value" format',
    ],
    good: 'FROM alpine:3.20\nLABEL a="b c"\n',
  },
  {
    rule: 'InvalidBaseImagePlatform',
    bad: 'FROM --platform=linux/arm64 alpine:3.20 AS arm64\n',
    expected: [
      'InvalidBaseImagePlatform@1: Base image alpine:3.20 was pulled with platform "linux/amd64", expected "linux/arm64" for current build',
    ],
    good: 'FROM --platform=linux/amd64 alpine:3.20 AS amd64\n',
  },
  {
    rule: 'RedundantTargetPlatform',
    bad: 'FROM --platform=$TARGETPLATFORM alpine:3.20\n',
    expected: [
      'RedundantTargetPlatform@1: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    ],
    good: 'FROM --platform=$BUILDPLATFORM alpine:3.20\n',
  },
  {
    rule: 'SecretsUsedInArgOrEnv',
    bad: 'FROM alpine:3.20\nARG DB_PASSWORD\n',
    expected: [
      'SecretsUsedInArgOrEnv@2: Do not use ARG or ENV instructions for sensitive data (ARG "DB_PASSWORD")',
    ],
    good: 'FROM alpine:3.20\nARG PUBLIC_KEY\nARG KEYBOARD\n',
  },
  {
    rule: 'InvalidDefaultArgInFrom',
    bad: 'ARG TAG\nFROM alpine:${TAG}\n',
    expected: [
      'InvalidDefaultArgInFrom@2: Default value for ARG alpine:${TAG} results in empty or invalid base image name',
    ],
    good: 'ARG TAG=3.20\nFROM alpine:${TAG}\n',
    opts: { buildArgs: { TAG: '3.20' } },
  },
  {
    rule: 'FromPlatformFlagConstDisallowed',
    bad: 'FROM --platform=linux/amd64 alpine:3.20 AS build\n',
    expected: [
      'FromPlatformFlagConstDisallowed@1: FROM --platform flag should not use constant value "linux/amd64"',
    ],
    good: 'FROM --platform=linux/amd64 alpine:3.20 AS build-amd64\n',
  },
  {
    rule: 'CopyIgnoredFile',
    bad: '# check=experimental=CopyIgnoredFile\nFROM alpine:3.20\nCOPY logs/a.log /\n',
    expected: [
      'CopyIgnoredFile@3: Attempting to Copy file "logs/a.log" that is excluded by .dockerignore',
    ],
    // Experimental: off unless asked for.
    good: 'FROM alpine:3.20\nCOPY logs/a.log /\n',
    opts: { dockerignore: ['logs'] },
  },
  {
    rule: 'ExposeProtoCasing',
    bad: 'FROM alpine:3.20\nEXPOSE 53/UDP\n',
    expected: [
      "ExposeProtoCasing@2: Defined protocol '53/UDP' in EXPOSE instruction should be lowercase",
    ],
    good: 'FROM alpine:3.20\nEXPOSE 53/udp\n',
  },
  {
    rule: 'ExposeInvalidFormat',
    bad: 'FROM alpine:3.20\nEXPOSE 8080:80\n',
    expected: [
      "ExposeInvalidFormat@2: EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80'",
    ],
    good: 'FROM alpine:3.20\nEXPOSE 80\n',
  },
];

describe('build-check rules', () => {
  it('has a positive and a negative case for every rule', () => {
    expect(CASES.map((c) => c.rule).sort()).toEqual(Object.keys(RULES).sort());
  });

  it.each(CASES.map((c) => [c.rule, c] as const))('%s', async (rule, c) => {
    expect(of(rule, await check(c.bad, c.opts))).toEqual(c.expected);
    expect(of(rule, await check(c.good, c.opts))).toEqual([]);
  });
});
