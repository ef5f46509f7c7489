import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProxy } from './ssh-agent.ts';

let dir: string;
let agent: ChildProcess;
let agentSocket: string;

/** A real ssh-agent (openssh-client) on a socket of its own, in the foreground. */
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tbuild-agent-'));
  agentSocket = join(dir, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(agentSocket); i++)
    await new Promise((r) => setTimeout(r, 20));
});

afterEach(async () => {
  agent.kill();
  await rm(dir, { recursive: true, force: true });
});

/** `ssh-add -l` through `socket`, asynchronously: the relay runs in this process's event loop. */
const sshAdd = (socket: string) =>
  new Promise<{ status: number | null; stdout: string }>((resolve) => {
    execFile(
      'ssh-add',
      ['-l'],
      { env: { ...process.env, SSH_AUTH_SOCK: socket }, timeout: 10_000 },
      (error, stdout) => resolve({ status: error ? (error.code as number) : 0, stdout }),
    );
  });

describe('startAgentProxy', () => {
  it('relays the agent protocol on a socket with the mount owner and mode', async () => {
    const proxy = await startAgentProxy({ agent: agentSocket, uid: 1234, gid: 5678, mode: 0o660 });
    try {
      const st = statSync(proxy.socket);
      expect(st.isSocket()).toBe(true);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1234, 5678, 0o660]);
      // ssh-add talks to the agent through the relay: 1 = "no identities", 2 = no agent.
      const listed = await sshAdd(proxy.socket);
      expect(listed.stdout).toContain('The agent has no identities.');
      expect(listed.status).toBe(1);
      // Several connections, one after another.
      expect((await sshAdd(proxy.socket)).status).toBe(1);
    } finally {
      await proxy.close();
    }
    expect(existsSync(proxy.socket)).toBe(false);
  });

  it('drops a client cleanly when the agent is gone', async () => {
    const proxy = await startAgentProxy({
      agent: join(dir, 'missing.sock'),
      uid: 0,
      gid: 0,
      mode: 0o600,
    });
    try {
      // The relay accepts, finds no agent and hangs up: ssh-add fails instead of hanging.
      for (let i = 0; i < 2; i++) {
        const listed = await sshAdd(proxy.socket);
        expect(listed.status).not.toBe(0);
        expect(listed.stdout).not.toContain('no identities');
      }
    } finally {
      await proxy.close();
    }
  });
});
