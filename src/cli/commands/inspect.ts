/**
 * `tbuild inspect IMAGE... [--format json|TEMPLATE]`: an image's config and manifest as
 * JSON, shaped like `docker image inspect` (Id, RepoTags, Config, Architecture, Os, RootFS,
 * …) plus the stored Manifest. `--format '{{.Id}}'` or `'{{json .Config}}'` print one
 * field, as docker's Go templates do for plain field paths.
 */
import type { Argv, CommandModule } from 'yargs';
import { STORE_ROOT_HELP } from '../../cache/default-root.ts';
import { UsageError } from '../../shared/errors.ts';

interface InspectArgs {
  images: string[];
  format: string;
  root: string | undefined;
}

const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <images..>',
  describe: 'Show the config and manifest of images in the local store',
  builder: (yargs: Argv<object>): Argv<InspectArgs> =>
    yargs
      .positional('images', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'Image names or IDs',
      })
      .option('format', {
        alias: 'f',
        type: 'string',
        default: 'json',
        describe: "json, or a template of field paths such as '{{.Id}}' or '{{json .Config}}'",
      })
      .option('root', {
        type: 'string',
        describe: STORE_ROOT_HELP,
      }) as unknown as Argv<InspectArgs>,
  handler: async (argv) => {
    const [{ openStore, ImageNotFoundError }, { inspectImage }, { findImages }] = await Promise.all(
      [import('../../cache/index.ts'), import('../../engine/image-info.ts'), import('./images.ts')],
    );
    const store = await openStore(argv.root === undefined ? {} : { root: argv.root });
    try {
      const results = [];
      for (const text of argv.images) {
        const [record] = await findImages(store, text);
        if (!record) throw new ImageNotFoundError(text);
        results.push(await inspectImage(store, record));
      }
      if (argv.format === 'json') process.stdout.write(JSON.stringify(results, null, 4) + '\n');
      else
        for (const result of results)
          process.stdout.write(renderTemplate(argv.format, result) + '\n');
    } finally {
      store.close();
    }
  },
};

export const command = inspectCommand as unknown as CommandModule<object, never>;

/** Expand `{{.A.B}}` and `{{json .A.B}}` actions; text outside actions is kept. */
export function renderTemplate(template: string, data: unknown): string {
  return template
    .replace(
      /\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}/g,
      (_all, json: string | undefined, path: string) => {
        let value: unknown = data;
        for (const key of path.split('.').filter(Boolean)) {
          if (value === null || typeof value !== 'object' || !(key in value)) {
            throw new UsageError(`template: no field "${key}" in ${path}`, {
              hint: 'Run `tbuild inspect IMAGE` to see the field names.',
            });
          }
          value = (value as Record<string, unknown>)[key];
        }
        return json ? JSON.stringify(value ?? null) : formatGoValue(value);
      },
    )
    .replace(/\{\{.*?\}\}/g, (action) => {
      throw new UsageError(`template: unsupported action ${action}`, {
        hint: "Use field paths ('{{.Id}}', '{{.Config.Env}}') or '{{json .Config}}'.",
      });
    });
}

/** How Go's text/template prints a value: slices as [a b], maps as map[k:v]. */
function formatGoValue(value: unknown): string {
  if (value === undefined || value === null) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(formatGoValue).join(' ')}]`;
  if (typeof value === 'object')
    return `map[${Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}:${formatGoValue(v)}`)
      .join(' ')}]`;
  return String(value);
}
