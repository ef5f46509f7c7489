/**
 * `--sbom` and `--provenance`, read as buildx reads them: a Go boolean, or `key=value`
 * attributes that ask for the attestation unless one of them is `disabled=true`. tbuild
 * makes no attestations yet, so asking for one is refused rather than ignored: a CI that
 * asks for an SBOM must not ship an image without one.
 */
import { UsageError } from '../../shared/errors.ts';

const WHAT = { sbom: 'SBOM', provenance: 'provenance' } as const;

/** Throw UsageError when `value` of `--sbom`/`--provenance` asks for an attestation. */
export function refuseAttestation(flag: 'sbom' | 'provenance', value: string | undefined): void {
  if (value === undefined || !isAttestationRequested(flag, value)) return;
  const what = WHAT[flag];
  throw new UsageError(`--${flag}=${value}: tbuild does not make ${what} attestations yet`, {
    hint: `Leave out --${flag} (or pass --${flag}=false) and make the ${what} with another tool.`,
  });
}

function isAttestationRequested(flag: string, value: string): boolean {
  const bool = parseGoBool(value);
  if (bool !== undefined) return bool;
  let requested = true;
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0)
      throw new UsageError(`invalid --${flag} value "${value}"`, {
        hint: `Use --${flag}=false, or key=value attributes such as mode=max.`,
      });
    if (field.slice(0, eq).trim().toLowerCase() !== 'disabled') continue;
    const disabled = parseGoBool(field.slice(eq + 1));
    if (disabled === undefined)
      throw new UsageError(`invalid --${flag} value "${value}"`, { hint: 'Use disabled=true.' });
    requested = !disabled;
  }
  return requested;
}

/** Go's strconv.ParseBool, which buildx uses for these flags. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}
