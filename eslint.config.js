// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');
const globals = require('globals');
const boundaries = require('eslint-plugin-boundaries');
const layers = require('./eslint.layers.js');

module.exports = tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', '.cache/', '.data/', 'coverage/', 'schema/generated/', 'bench/results/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read configuration through src/core/config.ts.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='bcrypt'][callee.property.name=/Sync$/]",
          message: 'Use the async bcrypt calls.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': layers.elements,
      // The process entry point sits above every layer: it may import anything, and nothing imports it.
      'boundaries/ignore': ['src/index.ts'],
      'import/resolver': { node: { extensions: ['.ts'] } },
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies: layers.policies }],
      'boundaries/no-unknown-files': 'error',
      // Every line counts, comments too: a function that needs more is doing more than one thing.
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false, IIFEs: true }],
      'max-lines': ['error', { max: 350, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    // The configuration module, the tests and the tooling may read the environment.
    files: ['src/core/config.ts', 'test/**', 'scripts/**', 'bench/**', '*.js', '*.mjs'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['playground/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
