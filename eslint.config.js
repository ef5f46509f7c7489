// @ts-check
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/**
 * The one-way import rule (docs/adr/0002-module-boundaries.md): each module may import
 * only the modules listed here. Everything else under src/ is forbidden to it.
 */
const allowed = {
  shared: [],
  parser: ['shared'],
  llb: ['shared'],
  frontend: ['shared', 'parser', 'llb'],
  solver: ['shared', 'llb'],
  cache: ['shared'],
  exec: ['shared'],
  registry: ['shared'],
  exporter: ['shared', 'cache'],
  progress: ['shared', 'solver'],
  doctor: ['shared', 'rootless'],
  rootless: ['shared'],
  engine: ['shared', 'llb', 'solver', 'cache', 'exec', 'registry', 'exporter'],
  // Cache export and import (--cache-to/--cache-from): the store's records to and from
  // local directories, registries and the GitHub Actions cache (ADR 11).
  'remote-cache': ['shared', 'llb', 'solver', 'cache', 'registry', 'exporter', 'engine'],
  builder: [
    'remote-cache',
    'shared',
    'parser',
    'llb',
    'frontend',
    'solver',
    'cache',
    'exec',
    'registry',
    'exporter',
    'engine',
    'doctor',
  ],
  watch: ['shared', 'builder'],
  cli: [
    'builder',
    'remote-cache',
    'watch',
    'doctor',
    'shared',
    'parser',
    'llb',
    'frontend',
    'solver',
    'cache',
    'exec',
    'registry',
    'exporter',
    'progress',
    'engine',
    'rootless',
  ],
  // The GitHub Action is a front door like the CLI, but only onto the build API: it never
  // runs the pipeline's modules itself (doctor tells its setup what to install).
  action: ['builder', 'progress', 'shared', 'doctor'],
};
const modules = Object.keys(allowed);
const zones = Object.entries(allowed)
  .map(([mod, ok]) => ({
    target: `./src/${mod}`,
    from: modules.filter((m) => m !== mod && !ok.includes(m)).map((m) => `./src/${m}`),
    message: `src/${mod} may import only from: ${ok.join(', ') || 'nothing else under src'}.`,
  }))
  .filter((zone) => zone.from.length > 0);

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'lib/',
      'dist/',
      'coverage/',
      'fixtures/',
      'test/conformance/cases/',
    ],
  },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['src/cli/**', 'src/progress/**', 'test/**', 'bench/**', 'bin/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
