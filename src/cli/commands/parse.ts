/**
 * `tbuild parse [--format json|text] [FILE]`: shows how tbuild reads a Dockerfile,
 * instruction by instruction with line ranges. The JSON form is what the parser's
 * golden fixtures hold.
 */
import { readFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../shared/errors.ts';

interface ParseArgs {
  file?: string;
  format: 'json' | 'text';
}

const parseCommand: CommandModule<object, ParseArgs> = {
  command: 'parse [file]',
  describe: 'Parse a Dockerfile and print its instructions (no build)',
  builder: (yargs: Argv<object>): Argv<ParseArgs> =>
    yargs
      .positional('file', {
        type: 'string',
        describe: 'Dockerfile to parse (default: Dockerfile); `-` reads standard input',
        // yargs turns a lone `-` into `true` (or drops it when a default is set).
        coerce: (value: unknown) => (value === true || value === '' ? '-' : String(value)),
      })
      .option('format', {
        choices: ['json', 'text'] as const,
        default: 'text' as const,
        describe: 'Output format',
      }) as Argv<ParseArgs>,
  handler: async (argv) => {
    const { parseDockerfile, formatParseResultJson, formatParseResultText } =
      await import('../../parser/index.ts');
    const file = argv.file ?? 'Dockerfile';
    const text = await readDockerfile(file);
    const result = parseDockerfile(text, { file: file === '-' ? 'stdin' : file });
    for (const warning of result.warnings) {
      const where = warning.range ? ` (line ${warning.range.start})` : '';
      const rule = warning.rule ? `${warning.rule}: ` : '';
      process.stderr.write(`WARNING: ${rule}${warning.message}${where}\n`);
    }
    const output =
      argv.format === 'json'
        ? JSON.stringify(formatParseResultJson(result), null, 2)
        : formatParseResultText(result);
    process.stdout.write(output + '\n');
  },
};

/** main.ts loads every command as CommandModule<object, never>; yargs checks the real shape. */
export const command = parseCommand as unknown as CommandModule<object, never>;

/** The file's text, or standard input for `-`. */
async function readDockerfile(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new InputError(`cannot read Dockerfile ${file}: ${reason}`, {
      hint: 'Pass the path of an existing Dockerfile, or `-` to read it from standard input.',
      cause: error,
    });
  }
}
