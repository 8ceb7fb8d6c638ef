import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The allowed arrows between the folders of src/ (docs/architecture.md), as lint rules: a module
 * importing above its layer fails `npm run lint`. `allowed` lists what a folder may import from
 * the rest of src/ (by first path segment after `../`); anything else outside it is refused.
 */
function layer(folder, allowed, why) {
  const allowedSegments = allowed.map((name) => name.replace(/[.]/g, '\\.')).join('|');
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: allowed.length === 0 ? '^\\.\\./' : `^\\.\\./(?!(?:${allowedSegments})(?:/|$))`,
              message: `src/${folder} ${why}`,
            },
          ],
        },
      ],
    },
  };
}

/**
 * The rooms of src/webhooks: `refused` lists the sibling rooms a room may not import. The API may
 * use delivery (signing, target policy) and cluster (placement); delivery and cluster do not use
 * the API, nor cluster delivery. All three share models.ts and store.ts at the top.
 */
function webhooksRoom(room, refused, why) {
  return {
    files: [`src/webhooks/${room}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: `^\\.\\./(?:${refused.join('|')})/`, message: `src/webhooks/${room} ${why}` }] }],
    },
  };
}

/** Every folder whose modules deliver events to the outside, or serve a person: no lower layer reaches into them. */
const OUTPUTS = ['stream', 'integrators', 'webhooks', 'live', 'board', 'cti', 'intake', 'sources', 'sandbox', 'cli', 'hub.js', 'components.js', 'index.js'];

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', 'data/', 'bench/baseline/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', Buffer: 'readonly', URL: 'readonly', performance: 'readonly', AbortController: 'readonly', fetch: 'readonly' } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  layer('core', [], 'holds the mechanics every layer shares (backoff, deadlines, connecting, error text): it imports nothing of the app.'),
  layer('events', ['errors.js', 'validation.js'], 'is the catalogue of event types and its check, below everything: it imports only errors and validation.'),
  layer('config', ['errors.js', 'validation.js'], 'is parsed first, before any part exists: it imports only errors and validation.'),
  layer('redis', ['core', 'config', 'errors.js'], 'is the lowest layer that talks to Redis: it imports only core, config and errors (the readiness type is in src/core/readiness.ts).'),
  layer('server', ['core', 'config', 'errors.js', 'validation.js'], 'is the HTTP frame the parts plug into: it imports none of them.'),
  {
    files: ['src/log/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^\\.\\./(?:${OUTPUTS.map((name) => name.replace(/[.]/g, '\\.')).join('|')})(?:/|$)`,
              message: 'src/log is the event log every output reads: it imports none of the outputs (stream, integrators, webhooks, live, board, cti, intake, sources) nor the hub.',
            },
          ],
        },
      ],
    },
  },
  webhooksRoom('cluster', ['api', 'delivery'], 'decides which node delivers which subscription: it knows nothing of posting or of the API.'),
  webhooksRoom('delivery', ['api'], 'posts the log to the subscriptions this node holds: it knows nothing of the API.'),
  {
    // The wallboard runs in the browser.
    files: ['src/board/assets/**'],
    languageOptions: { globals: { document: 'readonly', sessionStorage: 'readonly', requestAnimationFrame: 'readonly', TextDecoderStream: 'readonly' } },
  },
  {
    files: ['bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
);
