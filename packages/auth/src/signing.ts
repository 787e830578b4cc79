import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isScope, type Caller } from './caller.ts';

/**
 * The router vouches for the caller of every request it sends a subgraph: the caller's claims
 * travel in `x-iot-caller` (base64url JSON), with `x-iot-timestamp` (ms), a random `x-iot-nonce`
 * and `x-iot-signature`, an HMAC-SHA256 with the secret the router and subgraphs share over
 * `<timestamp>\n<nonce>\n<audience>\n<method> <path>\n<x-iot-caller>\n<sha256 of the body>`. The
 * audience (`x-iot-audience`) is the name of the subgraph the request is made for: a signature
 * seen by one subgraph cannot be replayed to another. A subgraph refuses what does not verify,
 * what is more than a minute off, a nonce it has seen, a signature made for another subgraph, and
 * a body, path or method that is not the one signed.
 *
 * A graphql-ws connection is signed as `WS` with no nonce and no body: the router renews the
 * signature every minute and reuses a connection while it is fresh, so a subgraph accepts one up
 * to two minutes old, and such a connection serves subscriptions only. Whoever can read the
 * traffic between router and subgraphs could open one within that time: keep that network
 * private, or put TLS on it.
 */
export const forwardHeaders = {
  caller: 'x-iot-caller',
  timestamp: 'x-iot-timestamp',
  nonce: 'x-iot-nonce',
  audience: 'x-iot-audience',
  signature: 'x-iot-signature',
} as const;

export type ForwardedHeaders = Record<(typeof forwardHeaders)[keyof typeof forwardHeaders], string>;

export interface SigningOptions {
  secret: string;
}

/** What a subgraph checks signatures with: the shared secret, and its own name (the audience signatures must name). */
export interface SubgraphTrust extends SigningOptions {
  audience: string;
}

/** What a signature covers of an HTTP request. */
export interface SignedRequest {
  /** The subgraph the request is sent to, by its name in the supergraph (`devices`). */
  audience: string;
  method: string;
  /** Path and query string, as the subgraph receives them (`/graphql`). */
  path: string;
  body: string;
}

const REQUEST_SKEW_MS = 60_000;
const CONNECTION_SKEW_MS = 120_000;
const connection = (audience: string): SignedRequest => ({ audience, method: 'WS', path: '', body: '' });

/** The headers of one request to a subgraph, made for `caller`. */
export function signRequest(caller: Caller, request: SignedRequest, secret: string, now = Date.now()): ForwardedHeaders {
  return sign(caller, request, randomBytes(16).toString('base64url'), secret, now);
}

/** The connectionParams of a graphql-ws connection to the subgraph `audience`, made for `caller` at `signedAt`. */
export function signConnection(caller: Caller, audience: string, secret: string, signedAt = Date.now()): ForwardedHeaders {
  return sign(caller, connection(audience), '', secret, signedAt);
}

export class SignatureError extends Error {}

/**
 * Nonces seen within the allowed skew: a signed request is accepted once. Entries expire with the
 * skew, so it holds at most a minute of requests.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();

  /** False when `nonce` was seen before; remembers it otherwise. */
  firstUse(nonce: string, now = Date.now()): boolean {
    if (this.#seen.has(nonce)) return false;
    // Oldest first (insertion order): drop what can no longer verify anyway.
    for (const [old, expires] of this.#seen) {
      if (expires > now) break;
      this.#seen.delete(old);
    }
    this.#seen.set(nonce, now + REQUEST_SKEW_MS * 2);
    return true;
  }
}

/** The caller a request was signed for; throws SignatureError naming what is wrong. */
export function verifySignedRequest(
  headers: Record<string, string | undefined>,
  request: Omit<SignedRequest, 'audience'>,
  options: SubgraphTrust & { replay: ReplayGuard },
  now = Date.now(),
): Caller {
  const nonce = headers[forwardHeaders.nonce];
  const caller = verify(headers, { ...request, audience: options.audience }, nonce ?? '', options.secret, REQUEST_SKEW_MS, now);
  if (!nonce) throw new SignatureError('the router signature has no nonce');
  if (!options.replay.firstUse(nonce, now)) throw new SignatureError('the router signature was used before');
  return caller;
}

/** The caller a graphql-ws connection was signed for (its connectionParams). */
export function verifySignedConnection(params: Record<string, string | undefined>, options: SubgraphTrust, now = Date.now()): Caller {
  return verify(params, connection(options.audience), '', options.secret, CONNECTION_SKEW_MS, now);
}

function sign(caller: Caller, request: SignedRequest, nonce: string, secret: string, now: number): ForwardedHeaders {
  const encoded = Buffer.from(JSON.stringify(caller)).toString('base64url');
  const timestamp = String(now);
  return {
    [forwardHeaders.caller]: encoded,
    [forwardHeaders.timestamp]: timestamp,
    [forwardHeaders.nonce]: nonce,
    [forwardHeaders.audience]: request.audience,
    [forwardHeaders.signature]: mac(secret, timestamp, nonce, request, encoded),
  } as ForwardedHeaders;
}

function verify(
  headers: Record<string, string | undefined>,
  request: SignedRequest,
  nonce: string,
  secret: string,
  maxSkewMs: number,
  now: number,
): Caller {
  const encoded = headers[forwardHeaders.caller];
  const timestamp = headers[forwardHeaders.timestamp];
  const signature = headers[forwardHeaders.signature];
  if (!encoded || !timestamp || !signature) throw new SignatureError('not signed by the router: call the API through the router');
  const skew = Math.abs(now - Number(timestamp));
  if (!Number.isFinite(skew) || skew > maxSkewMs) throw new SignatureError('the router signature has expired');
  const audience = headers[forwardHeaders.audience];
  if (audience !== request.audience) {
    throw new SignatureError(
      audience
        ? `the router signature was made for another subgraph (${JSON.stringify(audience.slice(0, 40))}), not ${request.audience}`
        : 'the router signature names no subgraph',
    );
  }
  const expected = Buffer.from(mac(secret, timestamp, nonce, request, encoded), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new SignatureError('the router signature does not match the request');
  return parseCaller(Buffer.from(encoded, 'base64url').toString('utf8'));
}

function mac(secret: string, timestamp: string, nonce: string, request: SignedRequest, encodedCaller: string): string {
  const bodyHash = createHash('sha256').update(request.body).digest('base64url');
  return createHmac('sha256', secret)
    .update(`${timestamp}\n${nonce}\n${request.audience}\n${request.method} ${request.path}\n${encodedCaller}\n${bodyHash}`)
    .digest('base64url');
}

function parseCaller(json: string): Caller {
  let value: Partial<Caller>;
  try {
    value = JSON.parse(json) as Partial<Caller>;
  } catch {
    throw new SignatureError('the forwarded caller is malformed');
  }
  const kinds = ['user', 'apiKey', 'anonymous'];
  if (
    !kinds.includes(value.kind as string) ||
    typeof value.subject !== 'string' ||
    !(value.tenant === null || typeof value.tenant === 'string') ||
    !Array.isArray(value.scopes) ||
    !value.scopes.every((s) => typeof s === 'string' && isScope(s))
  ) {
    throw new SignatureError('the forwarded caller is malformed');
  }
  return { kind: value.kind!, subject: value.subject, tenant: value.tenant, scopes: value.scopes };
}
