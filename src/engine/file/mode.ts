/**
 * COPY --chmod: an octal number, or a symbolic mode (`u+x`, `go-w`, `a=rX`, several
 * clauses separated by commas) applied to each entry's current mode, as chmod(1) does.
 */
import { FileOpError } from './errors.ts';

const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o1007, a: 0o7777 };

/** The new permission bits (including setuid/setgid/sticky) for an entry. */
export function applyMode(spec: number | string, currentMode: number, isDir: boolean): number {
  if (typeof spec === 'number') return spec & 0o7777;
  if (/^[0-7]{1,4}$/.test(spec)) return parseInt(spec, 8);
  let mode = currentMode & 0o7777;
  for (const clause of spec.split(',')) {
    const m = /^([ugoa]*)([-+=])([rwxXst]*)$/.exec(clause);
    if (!m) {
      throw new FileOpError('TBUILD_INVALID_CHMOD', `invalid --chmod value "${spec}"`, {
        hint: 'Use octal (0755) or symbolic clauses like u+x,g-w,o=r.',
      });
    }
    const [, who = '', op, perms = ''] = m;
    const mask = (who === '' ? 'a' : who).split('').reduce((acc, w) => acc | WHO_BITS[w]!, 0);
    let bits = 0;
    for (const p of perms) {
      if (p === 'r') bits |= 0o444;
      else if (p === 'w') bits |= 0o222;
      else if (p === 'x') bits |= 0o111;
      else if (p === 'X' && (isDir || (currentMode & 0o111) !== 0)) bits |= 0o111;
      else if (p === 's') bits |= 0o6000;
      else if (p === 't') bits |= 0o1000;
    }
    bits &= mask;
    if (op === '+') mode |= bits;
    else if (op === '-') mode &= ~bits;
    else mode = (mode & ~(mask & 0o7777)) | bits;
  }
  return mode;
}

/**
 * The mode of the destination directories a COPY creates (the destination and its missing
 * parents), as BuildKit 28 makes them: a numeric --chmod through mkdir's 022 umask
 * (`--chmod=0770` gives 0750), else 0755. A symbolic --chmod leaves them 0755.
 */
export function createdDirMode(spec: number | string | undefined): number {
  const numeric =
    typeof spec === 'number'
      ? spec
      : spec !== undefined && /^[0-7]{1,4}$/.test(spec)
        ? parseInt(spec, 8)
        : undefined;
  return numeric === undefined ? 0o755 : numeric & 0o1777 & ~0o022;
}
