// ESLint: typescript-eslint's recommended rules for the whole tree; formatting is Prettier's (`npm run format`).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/__generated__/**', 'clients/typescript/**', 'node_modules/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // `_name` marks what is deliberately unused (a field left out of a rest, a required parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  // TypeScript itself reports undefined names, with the types' knowledge of globals.
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  // The dashboard runs in browsers.
  { files: ['dashboard/public/**/*.js'], languageOptions: { globals: globals.browser } },
  // Tests read GraphQL answers as the JSON they are.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
