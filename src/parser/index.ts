/** The Dockerfile parser: text → instructions with line ranges. Pure, no I/O. */
export { parseDockerfile } from './parser.ts';
export type { ParseOptions } from './parser.ts';
export {
  DockerfileParseError,
  isDockerfileParseError,
  DOCKERFILE_PARSE_ERROR_CODE,
} from './errors.ts';
export { INSTRUCTION_NAMES } from './line-parsers.ts';
export { parseHeredocWord, chompHeredocContent } from './heredoc.ts';
export { formatParseResultJson, formatParseResultText } from './result-format.ts';
export type { ParseResultJson, InstructionJson } from './result-format.ts';
export type * from './types.ts';
export * from './shell-lexer.ts';
export * from './dockerignore.ts';
export * from './limits.ts';
export { ExpansionLimitError, ShellSyntaxError, VariableRequiredError } from './lexer-errors.ts';
