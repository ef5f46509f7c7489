/** Where the store lives when no --root is given. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inUserNamespace } from '../shared/userns.ts';

/**
 * `TBUILD_ROOT`, else `/var/lib/tbuild` for root, else `$XDG_DATA_HOME/tbuild`
 * (default `~/.local/share/tbuild`). A rootless build is uid 0 in its user namespace but
 * keeps the user's own store (ADR 17): two users never share one.
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TBUILD_ROOT) return env.TBUILD_ROOT;
  if (process.getuid?.() === 0 && !inUserNamespace(env)) return '/var/lib/tbuild';
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(dataHome, 'tbuild');
}

/** Help text for the CLI's `--root` option. */
export const STORE_ROOT_HELP =
  'Store directory (default: $TBUILD_ROOT, else /var/lib/tbuild as root, else $XDG_DATA_HOME/tbuild)';
