/**
 * `WWW-Authenticate` parsing (RFC 7235): one header may carry several challenges,
 * each a scheme followed by comma-separated `key=value` or `key="quoted value"` params.
 */

export interface AuthChallenge {
  /** Lower-cased: `bearer`, `basic`. */
  scheme: string;
  /** Param names lower-cased: `realm`, `service`, `scope`, `error`. */
  params: Record<string, string>;
}

/** Parse every challenge in a `WWW-Authenticate` header value. */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && !/[\s,=]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    const scheme = readToken();
    if (scheme === '') break;
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    // Params follow until the next bare token that is not followed by '=' (a new scheme).
    for (;;) {
      skipSpace();
      const save = i;
      const key = readToken();
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      if (key === '' || header[i] !== '=') {
        i = save;
        break;
      }
      i++; // '='
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      challenge.params[key.toLowerCase()] = readValue();
    }
  }
  return challenges;

  function readValue(): string {
    if (header[i] !== '"') {
      const start = i;
      while (i < n && header[i] !== ',' && !/\s/.test(header[i]!)) i++;
      return header.slice(start, i);
    }
    i++;
    let out = '';
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      out += header[i];
      i++;
    }
    i++; // closing quote
    return out;
  }
}
