/**
 * Where runc keeps its container state (`--root`) and tbuild its bundles: state that
 * lives no longer than the process. Root keeps it in the store (`<store>/runc`); a rootless
 * build keeps it under the user's `$XDG_RUNTIME_DIR` (ADR 17), a tmpfs of the user's own
 * that logind empties at logout, as rootless runc and BuildKit do, and falls back to the
 * store when it is unset (a `runuser` or cron session has none).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { inUserNamespace } from '../shared/userns.ts';

export function runtimeStateDir(storeRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (inUserNamespace(env) && runtime && path.isAbsolute(runtime) && isOwnDir(runtime))
    return path.join(runtime, 'tbuild');
  return path.join(storeRoot, 'runc');
}

/** A directory this process owns (root in the user namespace is the user outside it). */
function isOwnDir(dir: string): boolean {
  try {
    const stat = statSync(dir);
    return stat.isDirectory() && stat.uid === (process.getuid?.() ?? 0);
  } catch {
    return false;
  }
}
