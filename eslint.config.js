// Lint rules, including the one-way layer rule of ARCHITECTURE.md §2:
// http → registry → {metadata, storage}; auth and config beside; nothing below http/ imports node:http.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: forbidden.map((group) => ({ group: [group], message })) }],
  },
});

export default tseslint.config(
  { ignores: ['ui/**', 'dist/**', 'node_modules/**', 'data/**', '.tmp/**', 'eslint.config.js', '.ci/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  // Plain ESM scripts (bench/, scripts/) are not part of the TypeScript project.
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  layer(['src/storage/**'], ['**/http/**', '**/registry/**', '**/metadata/**', '**/auth/**', 'node:http', 'node:https'], 'storage/ knows only bytes by key'),
  layer(['src/metadata/**'], ['**/http/**', '**/registry/**', '**/storage/**', '**/auth/**', 'node:http', 'node:https'], 'metadata/ knows only rows'),
  layer(['src/registry/**'], ['**/http/**', '**/auth/**', '**/cli/**', 'node:http', 'node:https'], 'registry/ has OCI meaning and no HTTP types'),
  layer(['src/config/**'], ['**/http/**', '**/registry/**', '**/metadata/**', '**/storage/**', '**/cli/**'], 'config/ stands beside the layers'),
  layer(['src/auth/**'], ['**/http/**', '**/cli/**', 'node:http', 'node:https'], 'auth/ stands beside http'),
  layer(['src/http/**'], ['**/cli/**'], 'only cli/ and app.ts construct things'),
  layer(['src/events/**'], ['**/http/**', '**/storage/**', '**/auth/**', '**/cli/**', 'node:http', 'node:https'], 'events/ builds and delivers notifications: it knows the store\'s outbox and the registry\'s changes, not HTTP requests'),
  layer(['src/telemetry/**'], ['**/http/**', '**/registry/**', '**/metadata/**', '**/storage/**', '**/auth/**', '**/cli/**', 'node:http', 'node:https'], 'telemetry/ stands beside the layers: the rest calls it through small interfaces'),
);
