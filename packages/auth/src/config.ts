import { readFile } from 'node:fs/promises';
import { parseApiKeys, type ApiKeyRecord } from './api-keys.ts';
import { DEVELOPMENT_SECRET, type TokenVerifierOptions } from './tokens.ts';

/** The environment reader of `#kit` (only what is used here). */
interface Env {
  optional(name: string): string | undefined;
}

export interface AuthSettings {
  /** NODE_ENV=production: real secrets required, introspection and GraphiQL off. */
  production: boolean;
  tokens: TokenVerifierOptions;
  /** The router's signing secret for subgraph requests (SUBGRAPH_SECRET). */
  subgraphSecret: string;
  apiKeys: ApiKeyRecord[];
}

/** The router↔subgraph secret of development, when SUBGRAPH_SECRET is not set. */
export const DEVELOPMENT_SUBGRAPH_SECRET = 'iot-platform-development-subgraph-secret';

/**
 * What a subgraph needs of identity: the secret the router signs with (SUBGRAPH_SECRET; a
 * development one outside production, where it must be set).
 */
export function subgraphTrustFromEnv(env: Env): { secret: string } {
  const secret = env.optional('SUBGRAPH_SECRET');
  if (env.optional('NODE_ENV') === 'production' && (!secret || secret === DEVELOPMENT_SUBGRAPH_SECRET)) {
    throw new Error('NODE_ENV=production needs a SUBGRAPH_SECRET of your own (shared by the router and the subgraphs)');
  }
  return { secret: secret ?? DEVELOPMENT_SUBGRAPH_SECRET };
}

/**
 * Reads the router's identity settings: JWT_JWKS_URL (RS256/ES256, with JWT_ISSUER and JWT_AUDIENCE) or
 * JWT_SECRET (HS256); SUBGRAPH_SECRET; API_KEYS_FILE or API_KEYS (a JSON array of
 * `{id, name, sha256, requestsPerMinute, scopes?}`, scopes of `apiKeyScopes` only). Outside production the secrets default to
 * development ones; in production each must be set, or this throws naming it.
 */
export async function authSettingsFromEnv(env: Env): Promise<AuthSettings> {
  const production = env.optional('NODE_ENV') === 'production';
  const issuer = env.optional('JWT_ISSUER');
  const audience = env.optional('JWT_AUDIENCE');
  const jwksUrl = env.optional('JWT_JWKS_URL');
  const secret = env.optional('JWT_SECRET');
  if (jwksUrl && secret) throw new Error('Set JWT_JWKS_URL (RS256/ES256) or JWT_SECRET (HS256), not both');
  if (production && !jwksUrl && (!secret || secret === DEVELOPMENT_SECRET))
    throw new Error('NODE_ENV=production needs JWT_JWKS_URL, or a JWT_SECRET of your own');
  // An identity provider signs tokens for many apps: only those issued for this API count.
  if (production && jwksUrl && (!issuer || !audience))
    throw new Error('NODE_ENV=production with JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE');
  const keysFile = env.optional('API_KEYS_FILE');
  const keysJson = keysFile
    ? await readFile(keysFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new Error(`cannot read API_KEYS_FILE=${keysFile}: ${error.code ?? error.message}`);
      })
    : env.optional('API_KEYS');
  let apiKeys: ApiKeyRecord[];
  try {
    apiKeys = keysJson ? parseApiKeys(keysJson) : [];
  } catch (error) {
    throw new Error(`${keysFile ? 'API_KEYS_FILE' : 'API_KEYS'}: ${(error as Error).message}`, { cause: error });
  }
  return {
    production,
    tokens: jwksUrl ? { jwksUrl, issuer, audience } : { secret: secret ?? DEVELOPMENT_SECRET, issuer, audience },
    subgraphSecret: subgraphTrustFromEnv(env).secret,
    apiKeys,
  };
}
