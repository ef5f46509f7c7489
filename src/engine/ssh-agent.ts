/**
 * SSH agent forwarding for `RUN --mount=type=ssh`: a socket with the mount's owner and
 * mode that relays every connection to the agent socket given with `--ssh`. BuildKit
 * serves the agent through its session in the same way; bind-mounting the user's own
 * socket would expose it with the host's owner and mode instead of the mount's.
 */
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface AgentProxy {
  /** The relay socket, to bind-mount into the container. */
  readonly socket: string;
  /** Stop relaying and remove the socket; open connections are closed. */
  close(): Promise<void>;
}

export interface AgentProxyOptions {
  /** The agent socket to relay to (`--ssh id=<socket>`, `$SSH_AUTH_SOCK`). */
  agent: string;
  uid: number;
  gid: number;
  mode: number;
}

function listen(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Start a relay. Its socket lives in a short temp directory: a Unix socket path may not
 * exceed 107 bytes, which a store under a long path would.
 */
export async function startAgentProxy(options: AgentProxyOptions): Promise<AgentProxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tbuild-ssh-'));
  const socket = path.join(dir, 'agent.sock');
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(options.agent);
    for (const s of [client, upstream]) {
      open.add(s);
      s.once('close', () => open.delete(s));
      // An agent that went away, or a client that hung up: end both sides.
      s.once('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  try {
    await listen(server, socket);
    await chown(socket, options.uid, options.gid);
    await chmod(socket, options.mode);
  } catch (error) {
    server.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    socket,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
