import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// The data layer (docs/ARCHITECTURE.md): every query and transaction on our tables is in a repository
// module under schema/repositories/; api/ and activities/ call those, so a second dialect or a
// changed table is a change in one layer.
const noQueryHere = 'queries and transactions live in schema/repositories/: call a repository function';
const queryBuilders = ['selectFrom', 'insertInto', 'updateTable', 'deleteFrom', 'replaceInto', 'mergeInto', 'selectNoFrom', 'transaction', 'with'].map((name) => ({
  selector: `CallExpression > MemberExpression.callee[property.name='${name}']`,
  message: `.${name}(): ${noQueryHere}`,
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.tools/**', 'bench/results/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Layers (docs/ARCHITECTURE.md): domain/ is pure rules and formats that every layer, the
    // workflow bundle included, may import; it imports none of them and no I/O library.
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../api/*', '../activities/*', '../schema/*', '../runtime/*', '../config/*', '../workflows/*', '../scripts/*'], message: 'domain/ is the bottom layer: it imports no other layer' },
            { group: ['kysely', 'better-sqlite3', 'pg', 'pino', 'hono', 'hono/*', '@hono/*', '@temporalio/*'], message: 'domain/ is pure: no I/O libraries' },
          ],
        },
      ],
    },
  },
  {
    // The API reaches records through the data layer (schema/), never through the worker's activities.
    files: ['api/**/*.ts', 'api/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'kysely', importNames: ['sql'], message: noQueryHere }],
          patterns: [{ group: ['**/activities/*', '**/activities'], message: 'api/ must not import activities/: shared record keeping lives in schema/repositories/' }],
        },
      ],
      'no-restricted-syntax': ['error', ...queryBuilders],
    },
  },
  {
    // Activities are the workflow's I/O; the queries and transactions they run live in schema/repositories/.
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'kysely', importNames: ['sql'], message: noQueryHere }] }],
      'no-restricted-syntax': ['error', ...queryBuilders],
    },
  },
  {
    // Workflow code is replayed deterministically in a sandbox: no Node built-ins, no I/O modules.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflows/ must stay deterministic: do I/O in activities/' })),
          patterns: [
            { group: ['../activities/*'], message: 'import activities as types only (import type)', allowTypeImports: true },
            { group: ['kysely', 'better-sqlite3', 'pino', 'hono', '@temporalio/client', '@temporalio/worker'], message: 'no I/O libraries in workflows/' },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
