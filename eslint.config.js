// Lint: typescript-eslint's recommended rules plus the house rules of STYLE.md that a linter can
// check. Layer direction and import cycles are checked by dependency-cruiser (npm run lint).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.rebound/**'] },
  js.configs.recommended,
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'No export * barrels: export names explicitly (STYLE.md 3).' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['ioredis'], message: 'ioredis stays behind src/core/redis (STYLE.md 4).' }] },
      ],
    },
  },
  {
    files: ['src/core/redis/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
