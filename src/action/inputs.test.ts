import * as core from '@actions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { getBooleanInput, getInput, getInputList, readInputs } from './inputs.ts';

const env = (inputs: Record<string, string>) =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));

describe('inputs, read as @actions/core reads them', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  });

  it('take INPUT_<NAME> upper-cased with hyphens kept, trimmed, and booleans in YAML 1.2 core', () => {
    const e = env({ 'build-args': '  A=1 \n', 'no-cache': 'True', pull: 'FALSE' });
    Object.assign(process.env, e);
    expect(getInput(e, 'build-args')).toBe(core.getInput('build-args'));
    expect(getInput(e, 'build-args', { trim: false })).toBe(
      core.getInput('build-args', { trimWhitespace: false }),
    );
    expect(getBooleanInput(e, 'no-cache')).toBe(core.getBooleanInput('no-cache'));
    expect(getBooleanInput(e, 'pull')).toBe(core.getBooleanInput('pull'));
    expect(() => getBooleanInput(env({ push: 'yes' }), 'push')).toThrow(
      /input "push": "yes" is not a boolean/,
    );
  });

  it('leave an unset boolean false, the default action.yml gives it', () => {
    expect(getBooleanInput({}, 'push')).toBe(false);
  });
});

describe("lists, as build-push-action's getInputList splits them", () => {
  const list = (value: string, opts = {}) => getInputList(env({ x: value }), 'x', opts);

  it('split on newlines and commas, dropping empty items and spaces', () => {
    expect(list('user/app:latest,user/app:1.0\n\n  user/app:edge  \n')).toEqual([
      'user/app:latest',
      'user/app:1.0',
      'user/app:edge',
    ]);
  });

  it('keep commas inside one line for key=value inputs, and quoted fields whole', () => {
    expect(list('GREETING=hello, world\nB=2', { ignoreComma: true })).toEqual([
      'GREETING=hello, world',
      'B=2',
    ]);
    expect(list('"a,b",c')).toEqual(['a,b', 'c']);
  });

  it('leave quotes in outputs alone (quote: false), as buildx parses them itself', () => {
    expect(
      list('type=image,"name=r/a:1,r/a:2",push=true', { ignoreComma: true, quote: false }),
    ).toEqual(['type=image,"name=r/a:1,r/a:2",push=true']);
  });

  it('keep spaces of secrets', () => {
    expect(list('token= padded value ', { ignoreComma: true, trimWhitespace: false })).toEqual([
      'token= padded value ',
    ]);
  });
});

describe('readInputs', () => {
  it('reads every input of build-push-action with its list rules', () => {
    const inputs = readInputs(
      env({
        tags: 'a:1,a:2',
        'build-args': 'X=1,2',
        platforms: 'linux/amd64',
        push: 'true',
        'cache-from': 'type=gha',
      }),
    );
    expect(inputs).toMatchObject({
      tags: ['a:1', 'a:2'],
      'build-args': ['X=1,2'],
      platforms: ['linux/amd64'],
      push: true,
      load: false,
      'cache-from': ['type=gha'],
      context: '',
    });
    expect(Object.keys(inputs)).toHaveLength(33);
  });
});
