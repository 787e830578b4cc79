import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isScope, type Caller } from './caller.ts';

/**
 * The router vouches for the caller of every request it sends a subgraph: the caller's claims
 * travel in `x-iot-caller` (base64url JSON), with `x-iot-timestamp` (ms) and `x-iot-signature`,
 * an HMAC-SHA256 with the secret the router and subgraphs share over
 * `<timestamp>\n<x-iot-caller>\n<sha256 of the body>`. A subgraph refuses what does not verify,
 * what is older than the allowed skew, and a body that is not the one signed.
 *
 * graphql-ws connections have no body: their signature covers an empty one, and the router
 * renews it every `wsRenewMs` so a connection can be reused while it is fresh.
 */
export const forwardHeaders = { caller: 'x-iot-caller', timestamp: 'x-iot-timestamp', signature: 'x-iot-signature' } as const;

export type ForwardedHeaders = Record<(typeof forwardHeaders)[keyof typeof forwardHeaders], string>;

export interface SigningOptions {
  secret: string;
  /** How far a signature's timestamp may lie from now. Default 5 minutes. */
  maxSkewMs?: number;
}

export function signCaller(caller: Caller, body: string, secret: string, now = Date.now()): ForwardedHeaders {
  const encoded = Buffer.from(JSON.stringify(caller)).toString('base64url');
  const timestamp = String(now);
  return {
    [forwardHeaders.caller]: encoded,
    [forwardHeaders.timestamp]: timestamp,
    [forwardHeaders.signature]: mac(secret, timestamp, encoded, body),
  } as ForwardedHeaders;
}

export class SignatureError extends Error {}

/** The caller a request was signed for; throws SignatureError naming what is wrong. */
export function verifySignedCaller(headers: Record<string, string | undefined>, body: string, options: SigningOptions, now = Date.now()): Caller {
  const encoded = headers[forwardHeaders.caller];
  const timestamp = headers[forwardHeaders.timestamp];
  const signature = headers[forwardHeaders.signature];
  if (!encoded || !timestamp || !signature) throw new SignatureError('not signed by the router: call the API through the router');
  const skew = Math.abs(now - Number(timestamp));
  if (!Number.isFinite(skew) || skew > (options.maxSkewMs ?? 300_000)) throw new SignatureError('the router signature has expired');
  const expected = Buffer.from(mac(options.secret, timestamp, encoded, body), 'base64url');
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new SignatureError('the router signature does not match the request');
  return parseCaller(Buffer.from(encoded, 'base64url').toString('utf8'));
}

function mac(secret: string, timestamp: string, encodedCaller: string, body: string): string {
  const bodyHash = createHash('sha256').update(body).digest('base64url');
  return createHmac('sha256', secret).update(`${timestamp}\n${encodedCaller}\n${bodyHash}`).digest('base64url');
}

function parseCaller(json: string): Caller {
  const value = JSON.parse(json) as Partial<Caller>;
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
