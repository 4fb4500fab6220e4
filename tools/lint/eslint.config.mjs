/**
 * ESLint for kvmclone: typescript-eslint's type-checked recommended rules
 * over the whole TypeScript tree, and the promise and switch rules a daemon
 * that must never drop an error needs. Run by scripts/lint (from the
 * repository root, `-c tools/lint/eslint.config.mjs`).
 */
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default tseslint.config(
  { ignores: ['dist/**', '**/node_modules/**', 'shared/generated/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: root } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() and its subtests return promises the runner awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // `const { signal: _signal, ...rest } = options` drops a key; `_x` marks a parameter an interface requires.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // gRPC client methods travel with their client: unaryCall(client, client.method, …) and
      // session.call(client, client.method, …) call method.call(client, …), never the bare method.
      '@typescript-eslint/unbound-method': 'off',
      // An async function that does not await still turns a throw into a rejection, which the ports, fakes and
      // command callbacks here rely on: a synchronous throw from a function that returns a promise escapes .catch().
      '@typescript-eslint/require-await': 'off',
      // Passing on what was caught (unknown) or an AbortSignal's reason is not making up a non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
      // Small files and functions: a reader sees one concern at a time (blank and comment lines count).
      'max-lines': ['error', { max: 300 }],
      'max-lines-per-function': ['error', { max: 60, IIFEs: true }],
    },
  },
);
