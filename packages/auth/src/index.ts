export {
  Scope,
  allScopes,
  isScope,
  anonymousCaller,
  isAdmin,
  hasScope,
  canSeeTenant,
  requireScope,
  callerPartition,
  type Caller,
} from './caller.ts';
export {
  forwardHeaders,
  signRequest,
  signConnection,
  verifySignedRequest,
  verifySignedConnection,
  ReplayGuard,
  SignatureError,
  type ForwardedHeaders,
  type SignedRequest,
  type SigningOptions,
  type SubgraphTrust,
} from './signing.ts';
export {
  createTokenVerifier,
  mintToken,
  TokenError,
  DEVELOPMENT_SECRET,
  type TokenVerifier,
  type TokenVerifierOptions,
  type MintOptions,
} from './tokens.ts';
export { ApiKeys, ApiKeyError, apiKeyCaller, apiKeyScopes, issueApiKey, parseApiKeys, type ApiKeyRecord } from './api-keys.ts';
export { authSettingsFromEnv, subgraphTrustFromEnv, DEVELOPMENT_SUBGRAPH_SECRET, type AuthSettings } from './config.ts';
