/**
 * buildx's string syntax for build flags, turned into the builder's typed options. Front
 * doors that take docker's flags (the CLI) or build-push-action's inputs (the Action)
 * share these parsers.
 */
export { refuseAttestation } from './attestations.ts';
export { CACHE_TYPES, parseCacheSpec } from './cache.ts';
export { splitCsvRecord, parseAttributes } from './csv.ts';
export { parseKeyValues, parseNamedValues } from './key-values.ts';
export { OUTPUT_TYPES, parseOutputSpec } from './outputs.ts';
export {
  parseAddHosts,
  parseAllow,
  parseRamSize,
  parseSecrets,
  parseSshAgents,
  parseUlimits,
} from './run-flags.ts';
