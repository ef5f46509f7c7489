import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseAddHosts,
  parseAllow,
  parseAttributes,
  parseKeyValues,
  parseNamedValues,
  parseOutputSpec,
  parseRamSize,
  parseSecrets,
  parseSshAgents,
  parseUlimits,
  splitCsvRecord,
} from './index.ts';

describe('buildx attribute lists', () => {
  it('split on commas, with double quotes protecting commas and "" standing for a quote', () => {
    expect(splitCsvRecord('type=image,push=true')).toEqual(['type=image', 'push=true']);
    expect(splitCsvRecord('type=image,"name=a:1,b:2",push=true')).toEqual([
      'type=image',
      'name=a:1,b:2',
      'push=true',
    ]);
    expect(splitCsvRecord('"a=say ""hi"""')).toEqual(['a=say "hi"']);
    expect(splitCsvRecord('a=1,,b=2')).toEqual(['a=1', '', 'b=2']);
  });

  it('refuse an unterminated quote and a field without a key, naming the flag', () => {
    expect(() => parseAttributes('"type=image', '--output', 'type=x')).toThrow(
      /invalid --output "\"type=image": unterminated quote/,
    );
    expect(() => parseAttributes('type=image,push', '--output', 'type=x')).toThrow(
      /invalid --output/,
    );
  });

  it('lower-case keys and keep values as given', () => {
    expect(parseAttributes('Type=local,Dest=Out', '-o', 'x')).toEqual({
      type: 'local',
      dest: 'Out',
    });
  });
});

describe('--output specs', () => {
  it('take a bare path as a local output and - as a tar on stdout', () => {
    expect(parseOutputSpec('out')).toEqual({
      type: 'local',
      dest: 'out',
      names: [],
      push: false,
      attrs: {},
    });
    expect(parseOutputSpec('-')).toMatchObject({ type: 'tar', dest: '-' });
  });

  it('keep names, push and the other attributes apart', () => {
    expect(parseOutputSpec('type=image,"name=r/a:1,r/a:2",push=true,compression=zstd')).toEqual({
      type: 'image',
      names: ['r/a:1', 'r/a:2'],
      push: true,
      attrs: { compression: 'zstd' },
    });
    expect(parseOutputSpec('type=registry,name=r/a')).toMatchObject({ push: true });
  });

  it('need dest= for files and refuse unknown types', () => {
    expect(() => parseOutputSpec('type=docker')).toThrow(/type=docker needs dest=/);
    expect(() => parseOutputSpec('type=bogus,dest=x')).toThrow(/unknown output type "bogus"/);
  });
});

describe('RUN-shaping flags', () => {
  it('takes --allow once per flag or comma-separated, and refuses unknown entitlements', () => {
    expect(parseAllow(['network.host', 'security.insecure,network.host'])).toEqual([
      'network.host',
      'security.insecure',
    ]);
    expect(() => parseAllow(['network'])).toThrow('invalid --allow "network"');
  });

  it('--secret takes a file source or an environment variable (defaulting to the id)', () => {
    expect(parseSecrets(['id=a,src=rel/file', 'id=b,env=VAR', 'id=c'])).toEqual([
      { id: 'a', file: 'rel/file' },
      { id: 'b', env: 'VAR' },
      { id: 'c', env: 'c' },
    ]);
    expect(() => parseSecrets(['src=x'])).toThrow(/invalid --secret/);
  });

  it('--add-host takes host:ip and host=ip, IPv6 in brackets or not', () => {
    expect(parseAddHosts(['db:10.0.0.5', 'v6=[::1]', 'x:fe80::1'])).toEqual([
      { host: 'db', ip: '10.0.0.5' },
      { host: 'v6', ip: '::1' },
      { host: 'x', ip: 'fe80::1' },
    ]);
    expect(() => parseAddHosts(['db:not-an-ip'])).toThrow(/invalid --add-host/);
  });

  it('sizes are powers of 1024, as docker reads them', () => {
    expect(parseRamSize('64m', 'shm-size')).toBe(64 * 1024 ** 2);
    expect(parseRamSize('1g', 'shm-size')).toBe(1024 ** 3);
    expect(parseRamSize('512', 'shm-size')).toBe(512);
    expect(() => parseRamSize('0', 'shm-size')).toThrow(/invalid --shm-size/);
  });

  it('--ulimit takes soft[:hard] with -1 as unlimited, and checks names and order', () => {
    expect(parseUlimits(['nofile=1024:2048', 'core=-1'])).toEqual([
      { name: 'nofile', soft: 1024, hard: 2048 },
      { name: 'core', soft: -1, hard: -1 },
    ]);
    expect(() => parseUlimits(['bogus=1'])).toThrow(/invalid --ulimit/);
    expect(() => parseUlimits(['nofile=10:5'])).toThrow(/soft limit is above the hard one/);
  });

  it('--ssh forwards agent sockets only, and names the variable when it is unset', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tbuild-ssh-'));
    const socket = path.join(dir, 'agent.sock');
    const server = net.createServer().listen(socket);
    await new Promise((r) => server.once('listening', r));
    try {
      expect(
        await parseSshAgents(['default', 'other=' + socket], { SSH_AUTH_SOCK: socket }),
      ).toEqual({ default: socket, other: socket });
      await expect(parseSshAgents(['default'], {})).rejects.toThrow(/SSH_AUTH_SOCK is not set/);
      await expect(parseSshAgents(['k=' + path.join(dir, 'none')], {})).rejects.toThrow(
        /is not an SSH agent socket/,
      );
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('KEY=VALUE lists', () => {
  it('take a bare KEY from the environment when it is set there, as docker does', () => {
    expect(
      parseKeyValues(['A=1', 'B=x=y', 'HOME', 'UNSET'], '--build-arg', { HOME: '/h' }),
    ).toEqual({
      A: '1',
      B: 'x=y',
      HOME: '/h',
    });
    expect(() => parseKeyValues(['=v'], '--build-arg')).toThrow(/invalid --build-arg "=v"/);
  });

  it('named values need both a name and a value', () => {
    expect(parseNamedValues(['a=dir', 'b=docker-image://x'], '--build-context', 'N=V')).toEqual({
      a: 'dir',
      b: 'docker-image://x',
    });
    expect(() => parseNamedValues(['a='], '--build-context', 'N=V')).toThrow(/invalid/);
    expect(() => parseNamedValues(['dir'], '--build-context', 'N=V')).toThrow(/invalid/);
  });
});
