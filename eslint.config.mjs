// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Type-aware lint of the whole TypeScript tree (the project service reads tsconfig.json).
 * Exceptions are listed with the reason each is one; formatting is not linted here.
 */
export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/examples/**', 'test/bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tsc's noUnusedLocals/noUnusedParameters already report these; `_` marks an intended one.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `void promise` is how the code says "fire and forget, errors handled inside".
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      // Express 5 handlers may be async (it awaits them); event listeners are wrapped in `void`.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      // Template literals print numbers and booleans on purpose (log lines, error messages).
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      // Driver and JSON boundaries are typed by Joi validation and casts; `unknown` everywhere would add noise, not safety.
      '@typescript-eslint/no-unsafe-assignment': 'warn',
      '@typescript-eslint/no-unsafe-member-access': 'warn',
      // Joi's `validate` yields the schema's output untyped; routes hand it on to typed work modules.
      '@typescript-eslint/no-unsafe-argument': 'warn',
      // Ports return promises (the per-kind tables, dispatchers): an implementation with nothing to await stays async to match.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read HTTP answers as `any` (supertest bodies) and fake ports with partial objects.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
      // Tests feed and look for control characters on purpose (the sanitising they check).
      'no-control-regex': 'off',
    },
  },
  {
    // Plain CommonJS configuration files run by Node, outside the TypeScript project.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The dashboard runs in the browser; the driver's page callbacks run there too.
    files: ['orchestrator/dashboard/**/*.js', 'test/e2e/dashboard-*driver.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'sessionStorage',
          'fetch',
          'setTimeout',
          'clearTimeout',
          'URLSearchParams',
          'TextDecoder',
          'Node',
          'Chart',
          'console',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
