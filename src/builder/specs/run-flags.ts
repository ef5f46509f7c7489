/**
 * Flags that shape RUN steps: --secret, --ssh, --add-host, --shm-size, --ulimit, --allow, each
 * parsed as docker build / buildx take it.
 */
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { ENTITLEMENTS } from '../../frontend/index.ts';
import { UsageError } from '../../shared/errors.ts';
import type { Entitlement, HostEntry, SecretSpec, Ulimit } from '../types.ts';

/** `--secret id=NAME,src=FILE` or `id=NAME[,env=VAR]` (VAR defaults to NAME). */
export function parseSecrets(list: readonly string[] | undefined): SecretSpec[] {
  return (list ?? []).map((spec): SecretSpec => {
    const fields = Object.fromEntries(
      spec.split(',').map((kv) => {
        const eq = kv.indexOf('=');
        return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
    );
    const id = fields.id;
    if (!id)
      throw new UsageError(`invalid --secret "${spec}"`, {
        hint: 'Use --secret id=NAME,src=FILE or --secret id=NAME,env=VAR.',
      });
    const file = fields.src ?? fields.source;
    if (file) return { id, file };
    return { id, env: fields.env ?? id };
  });
}

/** `--add-host host:ip` (or `host=ip`, as buildx also takes); the IP may be IPv6. */
export function parseAddHosts(list: readonly string[] | undefined): HostEntry[] {
  return (list ?? []).map((spec) => {
    const cut = /[:=]/.exec(spec)?.index ?? -1;
    const host = spec.slice(0, cut);
    const ip = spec.slice(cut + 1).replace(/^\[(.*)\]$/, '$1');
    if (cut <= 0 || !isIP(ip))
      throw new UsageError(`invalid --add-host "${spec}"`, {
        hint: 'Use --add-host name:IP, e.g. --add-host db:10.0.0.5.',
      });
    return { host, ip };
  });
}

/** `--allow` entries (one per flag, or comma-separated): network.host, security.insecure. */
export function parseAllow(list: readonly string[] | undefined): Entitlement[] {
  const names = (list ?? [])
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!ENTITLEMENTS.includes(name as Entitlement))
      throw new UsageError(`invalid --allow "${name}"`, {
        hint: `Use ${ENTITLEMENTS.join(' or ')}.`,
      });
  }
  return [...new Set(names as Entitlement[])];
}

/** Docker's RAMInBytes: a number of bytes, or with b/k/m/g/t (powers of 1024). */
export function parseRamSize(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!match || Number(match[1]) <= 0)
    throw new UsageError(`invalid --${flag} "${text}"`, { hint: `Use a size like 64m or 1g.` });
  const power = ['', 'k', 'm', 'g', 't'].indexOf(match[2]!.toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

/** `--ulimit name=soft[:hard]` as docker takes it; -1 is unlimited. */
export function parseUlimits(list: readonly string[] | undefined): Ulimit[] {
  const names = [
    'core',
    'cpu',
    'data',
    'fsize',
    'locks',
    'memlock',
    'msgqueue',
    'nice',
    'nofile',
    'nproc',
    'rss',
    'rtprio',
    'rttime',
    'sigpending',
    'stack',
  ];
  return (list ?? []).map((spec) => {
    const match = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
    const name = match?.[1] ?? '';
    if (!match || !names.includes(name))
      throw new UsageError(`invalid --ulimit "${spec}"`, {
        hint: `Use --ulimit NAME=SOFT[:HARD] with NAME one of ${names.join(', ')}.`,
      });
    const soft = Number(match[2]);
    const hard = match[3] === undefined ? soft : Number(match[3]);
    if (hard !== -1 && (soft === -1 || soft > hard))
      throw new UsageError(`invalid --ulimit "${spec}": the soft limit is above the hard one`, {
        hint: 'Give SOFT <= HARD.',
      });
    return { name, soft, hard };
  });
}

/**
 * `--ssh default`, `--ssh ID` (both $SSH_AUTH_SOCK) or `--ssh ID=SOCKET`. Docker also
 * takes private key files here (BuildKit then runs an agent of its own); tbuild forwards
 * agent sockets only, and says how to load a key into an agent.
 */
export async function parseSshAgents(
  list: readonly string[] | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Record<string, string>> {
  const agents: Record<string, string> = {};
  for (const spec of list ?? []) {
    const eq = spec.indexOf('=');
    const id = eq < 0 ? spec : spec.slice(0, eq);
    const given = eq < 0 ? env.SSH_AUTH_SOCK : spec.slice(eq + 1);
    if (!id || given === '')
      throw new UsageError(`invalid --ssh "${spec}"`, {
        hint: 'Use --ssh default (your $SSH_AUTH_SOCK) or --ssh ID=/path/to/agent.sock.',
      });
    if (given === undefined)
      throw new UsageError(`--ssh ${id}: SSH_AUTH_SOCK is not set`, {
        hint: 'Start an agent and add your key (eval "$(ssh-agent)" && ssh-add), or pass --ssh ID=/path/to/agent.sock.',
      });
    const socket = path.resolve(given);
    const st = await stat(socket).catch(() => undefined);
    if (!st?.isSocket())
      throw new UsageError(`--ssh ${id}: ${given} is not an SSH agent socket`, {
        hint: 'tbuild forwards agent sockets, not key files: ssh-add the key to an agent (eval "$(ssh-agent)" && ssh-add KEY) and pass --ssh ID=$SSH_AUTH_SOCK.',
      });
    agents[id] = socket;
  }
  return agents;
}
