import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { EnvReader } from '#kit';
import type { RouterHardening } from './gateway.ts';
import { MAX_BODY_BYTES } from './plugins/bodyLimit.ts';
import { readPersistedDocuments } from './plugins/persistedOperations.ts';

/** The typed client's persisted documents (`npm run codegen`). */
const defaultPersistedDocuments = fileURLToPath(new URL('../../clients/typescript/persisted-documents.json', import.meta.url));

/**
 * The router's limits and hardening from the environment, for the `main.ts` files (defaults in
 * brackets):
 * - `NODE_ENV=production`: production mode (introspection and GraphiQL off, errors masked);
 * - `MAX_DOCUMENT_BYTES` [64 KiB], refused before parsing; `MAX_QUERY_DEPTH` [12], `MAX_QUERY_TOKENS` [5000], `MAX_QUERY_COST` [5000], `ASSUMED_LIST_SIZE` [10],
 *   `MAX_QUERY_FIELDS` [1000], `MAX_QUERY_MUTATIONS` [10];
 * - `RATE_LIMIT` [true]; requests a minute: `RATE_LIMIT_TENANT_PER_MINUTE` [600] per tenant,
 *   `RATE_LIMIT_OPERATOR_PER_MINUTE` [600] per operator, `RATE_LIMIT_ANONYMOUS_PER_MINUTE` [60]
 *   per address, `RATE_LIMIT_API_KEY_PER_MINUTE` [60] for a key without a record (each key has its
 *   own quota); `REDIS_URL` to share them between router instances; `TRUST_FORWARDED_FOR` [false];
 * - `PERSISTED_DOCUMENTS` [clients/typescript/persisted-documents.json when it exists],
 *   `PERSISTED_OPERATIONS_ONLY` [false];
 * - `CSRF_PREVENTION` [true], `MAX_BODY_BYTES` [256 KiB], `MAX_WS_MESSAGE_BYTES` [256 KiB].
 */
export async function routerHardeningFromEnv(env: EnvReader): Promise<RouterHardening> {
  const persistedFile =
    env.optional('PERSISTED_DOCUMENTS') ?? ((await exists(defaultPersistedDocuments)) ? defaultPersistedDocuments : undefined);
  const persistedOnly = env.bool('PERSISTED_OPERATIONS_ONLY', false);
  if (persistedOnly && !persistedFile)
    throw new Error(`PERSISTED_OPERATIONS_ONLY needs persisted documents: set PERSISTED_DOCUMENTS or run npm run codegen`);
  const redisUrl = env.optional('REDIS_URL');
  return {
    production: env.string('NODE_ENV', 'development') === 'production',
    limits: {
      maxDocumentBytes: env.int('MAX_DOCUMENT_BYTES', 64 * 1024),
      maxDepth: env.int('MAX_QUERY_DEPTH', 12),
      maxTokens: env.int('MAX_QUERY_TOKENS', 5000),
      maxCost: env.int('MAX_QUERY_COST', 5000),
      defaultListSize: env.int('ASSUMED_LIST_SIZE', 10),
      maxFields: env.int('MAX_QUERY_FIELDS', 1000),
      maxMutationFields: env.int('MAX_QUERY_MUTATIONS', 10),
    },
    rateLimit: env.bool('RATE_LIMIT', true)
      ? {
          tenantPerMinute: env.int('RATE_LIMIT_TENANT_PER_MINUTE', 600),
          operatorPerMinute: env.int('RATE_LIMIT_OPERATOR_PER_MINUTE', 600),
          anonymousPerMinute: env.int('RATE_LIMIT_ANONYMOUS_PER_MINUTE', 60),
          apiKeyPerMinute: env.int('RATE_LIMIT_API_KEY_PER_MINUTE', 60),
          trustForwardedFor: env.bool('TRUST_FORWARDED_FOR', false),
          ...(redisUrl ? { redisUrl } : {}),
        }
      : undefined,
    persistedOperations: persistedFile ? { documents: await readPersistedDocuments(persistedFile), only: persistedOnly } : undefined,
    csrfPrevention: env.bool('CSRF_PREVENTION', true),
    maxBodyBytes: env.int('MAX_BODY_BYTES', MAX_BODY_BYTES),
    maxMessageBytes: env.int('MAX_WS_MESSAGE_BYTES', MAX_BODY_BYTES),
  };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
