import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isScope, type Caller, type Scope } from './caller.ts';

/**
 * How the router checks JWTs: HS256 with a shared secret (development), or RS256/ES256 with the
 * identity provider's JWKS (production). The caller's tenant is the `tenant` claim, its scopes the
 * space-separated `scope` claim (RFC 9068), or a `scopes` array.
 */
export type TokenVerifierOptions = { issuer?: string; audience?: string } & ({ secret: string } | { jwksUrl: string });

/** The HS256 secret of `npm start` and `npm run token` when none is set: development only. */
export const DEVELOPMENT_SECRET = 'iot-platform-development-secret-do-not-use-in-production';

export class TokenError extends Error {}

/** How many verified tokens a verifier remembers. */
const VERIFIED_TOKENS_KEPT = 10_000;

export type TokenVerifier = (token: string) => Promise<Caller>;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const key: Uint8Array | JWTVerifyGetKey =
    'secret' in options ? new TextEncoder().encode(options.secret) : createRemoteJWKSet(new URL(options.jwksUrl));
  const algorithms = 'secret' in options ? ['HS256'] : ['RS256', 'ES256'];
  // A token verified once stands until it expires: partners send the same one with every request.
  const verified = new Map<string, Caller>();
  return async (token) => {
    const known = verified.get(token);
    if (known && known.expiresAt! > Date.now()) return known;
    verified.delete(token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw new TokenError(tokenErrorMessage(error));
    }
    const caller = callerOf(payload);
    // Oldest first (insertion order): a bounded cache of the tokens in use.
    if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
    verified.set(token, caller);
    return caller;
  };
}

function tokenErrorMessage(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey)
    return 'the token is not signed by a trusted key';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this API does not accept';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's "${error.claim}" claim is invalid: ${error.reason}`;
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the token is malformed';
  return `the token could not be verified: ${error instanceof Error ? error.message : String(error)}`;
}

function callerOf(payload: JWTPayload): Caller {
  const raw: unknown[] = typeof payload.scope === 'string' ? payload.scope.split(' ') : Array.isArray(payload.scopes) ? payload.scopes : [];
  // Scopes of other APIs (an identity provider's `openid profile`) grant nothing here.
  const scopes = raw.filter((s): s is Scope => typeof s === 'string' && isScope(s));
  const tenant = typeof payload.tenant === 'string' && payload.tenant ? payload.tenant : null;
  if (!tenant && !scopes.includes('admin')) throw new TokenError('the token has no "tenant" claim (only admin tokens may omit it)');
  return { kind: 'user', subject: payload.sub!, tenant, scopes, expiresAt: payload.exp! * 1000 };
}

export interface MintOptions {
  tenant?: string;
  scopes: readonly Scope[];
  subject?: string;
  secret: string;
  /** Lifetime as jose reads it (`12h`, `30d`), or the expiry as seconds since the epoch. Default 12 h. */
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
}

/** An HS256 token for development and tests (production tokens come from the identity provider). */
export function mintToken(options: MintOptions): Promise<string> {
  const jwt = new SignJWT({ ...(options.tenant ? { tenant: options.tenant } : {}), scope: options.scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject ?? (options.tenant ? `${options.tenant}-developer` : 'operator'))
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
