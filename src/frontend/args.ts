/**
 * Build arguments: the predefined platform ARGs, proxy ARGs usable without declaring
 * them, and the global scope (ARGs before the first FROM, usable in FROM lines only
 * unless a stage declares them again).
 */
import { formatPlatform } from '../shared/platform.ts';
import type { Platform } from '../shared/platform.ts';

/** ARGs a RUN sees without an ARG line, never stored in the image (Docker's proxy set). */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

/** The automatic platform ARGs (TARGETPLATFORM, BUILDARCH, …). */
export function predefinedArgs(target: Platform, build: Platform): Map<string, string> {
  const set = (prefix: string, p: Platform): Array<[string, string]> => [
    [`${prefix}PLATFORM`, formatPlatform(p)],
    [`${prefix}OS`, p.os],
    [`${prefix}ARCH`, p.architecture],
    [`${prefix}VARIANT`, p.variant ?? ''],
  ];
  return new Map([...set('TARGET', target), ...set('BUILD', build)]);
}

/**
 * A variable scope for expansion: ENV wins over ARG (Docker's rule), and an ARG declared
 * without a value is not defined.
 */
export function createLookup(
  env: readonly string[] | undefined,
  args: ReadonlyMap<string, string | undefined>,
): (name: string) => string | undefined {
  const envMap = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    envMap.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
  }
  // A snapshot: an instruction expands with the scope from before it, as Docker does.
  const argMap = new Map(args);
  return (name) => envMap.get(name) ?? argMap.get(name);
}
