import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { GraphQLError } from 'graphql';
import {
  anonymousCaller,
  apiKeyCaller,
  ApiKeyError,
  createTokenVerifier,
  DEVELOPMENT_SECRET,
  signConnection,
  signRequest,
  TokenError,
  type ApiKeyRecord,
  type ApiKeys,
  type Caller,
  type ForwardedHeaders,
  type TokenVerifier,
} from '#auth';
import type { SubgraphEndpoint } from '../subgraphEndpoints.ts';

export interface RouterAuthOptions {
  /** Checks `Authorization: Bearer` JWTs. */
  verifyToken: TokenVerifier;
  /**
   * Partner API keys (`x-api-key`): open data, and the key's own scopes (`actuators:write`). The
   * router refuses no operation for being a key's (mutations included): the subgraphs decide what
   * a key may do, and the key's quota (`RATE_LIMIT_API_KEY_PER_MINUTE` or its `requestsPerMinute`) still applies.
   */
  apiKeys?: ApiKeys;
  /** The secret shared with the subgraphs: every subgraph request carries the caller signed with it. */
  subgraphSecret: string;
}

/** Missing or invalid credentials: answered with HTTP 401 (graphql-ws: close code 4401). */
export class AuthenticationError extends Error {}

/** How long one signature of a graphql-ws connection to a subgraph is reused (connections are pooled by it). */
const WS_SIGNATURE_RENEW_MS = 60_000;

/**
 * Who is calling: the router checks the credentials of every request and graphql-ws connection
 * once, keeps the caller in the operation's context, and signs it into every request it makes to
 * a subgraph (`x-iot-caller`, HMAC over the body), so subgraphs scope everything to it.
 */
export class RouterAuth {
  readonly #options: RouterAuthOptions;
  readonly #callers = new WeakMap<IncomingMessage, Caller>();

  constructor(options: RouterAuthOptions) {
    this.#options = options;
  }

  /**
   * The caller of these credentials: a bearer token, an API key, or none (anonymous: open data
   * only). Credentials that are present but do not verify are an AuthenticationError, never anonymous.
   */
  async authenticate(credentials: { authorization?: string; apiKey?: string }): Promise<Caller> {
    const { authorization, apiKey } = credentials;
    if (authorization) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
      if (!match) throw new AuthenticationError('the Authorization header must be "Bearer <token>"');
      try {
        return await this.#options.verifyToken(match[1]!);
      } catch (error) {
        if (error instanceof TokenError) throw new AuthenticationError(error.message);
        throw error;
      }
    }
    if (apiKey) {
      if (!this.#options.apiKeys) throw new AuthenticationError('this API accepts no API keys');
      try {
        return apiKeyCaller(this.#options.apiKeys.verify(apiKey.trim()));
      } catch (error) {
        if (error instanceof ApiKeyError) throw new AuthenticationError(error.message);
        throw error;
      }
    }
    return anonymousCaller;
  }

  /**
   * Authenticates an HTTP request before anything else sees it: on failure answers 401 with a
   * GraphQL error and returns undefined. `onFailure` is told first (the address's rate limit
   * counts failures); when it answered the request itself (429), it resolves true.
   */
  async authenticateRequest(req: IncomingMessage, res: ServerResponse, onFailure?: () => Promise<boolean>): Promise<Caller | undefined> {
    try {
      const caller = await this.authenticate(credentialsOf(req.headers));
      this.#callers.set(req, caller);
      return caller;
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      if (await onFailure?.()) return undefined;
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': `Bearer error="invalid_token", error_description="${error.message.replace(/[^\x20-\x7e]|"/g, "'")}"`,
      });
      res.end(JSON.stringify({ errors: [{ message: `Unauthorized: ${error.message}`, extensions: { code: 'UNAUTHENTICATED' } }] }));
      return undefined;
    }
  }

  /**
   * The caller of a graphql-ws connection, from its `connectionParams` (`authorization`,
   * `x-api-key`, also under `headers`) or its upgrade request's headers; kept for the
   * connection's operations by its upgrade request.
   */
  async authenticateConnection(params: Readonly<Record<string, unknown>> | undefined, request: IncomingMessage): Promise<Caller> {
    const fromParams = lowerCaseStrings((params?.headers ?? params) as Record<string, unknown> | undefined);
    const fromRequest = credentialsOf(request.headers);
    const caller = await this.authenticate({
      authorization: fromParams.authorization ?? fromRequest.authorization,
      apiKey: fromParams['x-api-key'] ?? fromRequest.apiKey,
    });
    this.#callers.set(request, caller);
    return caller;
  }

  /** The caller authenticated for an HTTP request, or for the graphql-ws connection upgraded by it. */
  callerOf(request: IncomingMessage): Caller | undefined {
    return this.#callers.get(request);
  }

  /** The record of an API key by its id (the caller's `subject`), for its quota. */
  apiKey(id: string): ApiKeyRecord | undefined {
    return this.#options.apiKeys?.get(id);
  }

  /**
   * The Hive Gateway plugin: the caller into the context, and signed into every subgraph request
   * for the subgraph it is sent to (`subgraphs`: the supergraph's, by URL).
   */
  plugin(subgraphs: readonly SubgraphEndpoint[]): GatewayPlugin {
    const secret = this.#options.subgraphSecret;
    const callers = this.#callers;
    const names = subgraphs.map(({ name }) => name);
    const audienceOf = new Map(subgraphs.map(({ name, url }) => [endpointKey(url), name]));
    return {
      onContextBuilding({ context, extendContext }) {
        const req = (context as { req?: IncomingMessage }).req;
        const caller = req ? callers.get(req) : undefined;
        if (!caller) return;
        // graphql-ws connections to subgraphs are pooled by their connectionParams: one
        // signature per caller, subgraph and minute lets subscriptions of the same caller share one.
        const signedAt = Math.floor(Date.now() / WS_SIGNATURE_RENEW_MS) * WS_SIGNATURE_RENEW_MS;
        extendContext({ caller, subgraphWs: connectionSignatures(caller, names, secret, signedAt) });
      },
      onFetch({ url, context, options, setOptions }) {
        const caller = (context as { caller?: Caller }).caller;
        const audience = audienceOf.get(endpointKey(url));
        // No caller or no subgraph of the supergraph, no signature: the subgraph refuses the request.
        if (!caller || !audience) return;
        const body = typeof options.body === 'string' ? options.body : '';
        const { pathname, search } = new URL(url);
        setOptions({
          ...options,
          headers: {
            ...options.headers,
            ...signRequest(caller, { audience, method: options.method ?? 'GET', path: pathname + search, body }, secret),
          },
        });
      },
      // A subgraph's UNAUTHENTICATED (an anonymous caller asked for more than open data) is a 401.
      onExecutionResult({ result, setResult }) {
        if (!result || Array.isArray(result) || !('errors' in result) || !result.errors?.some(isUnauthenticated)) return;
        setResult({
          ...result,
          errors: result.errors.map((error) =>
            isUnauthenticated(error)
              ? new GraphQLError(error.message, { path: error.path, extensions: { ...error.extensions, http: { status: 401 } } })
              : error,
          ),
        });
      },
    };
  }
}

/**
 * graphql-ws connectionParams for the subgraph `name`: the connection's caller signed for that
 * subgraph (see `plugin`), as templates the transport fills from the operation's context.
 */
export function subgraphWsConnectionParams(name: string): Record<string, string> {
  return {
    'x-iot-caller': `{context.subgraphWs.${name}.caller}`,
    'x-iot-timestamp': `{context.subgraphWs.${name}.timestamp}`,
    'x-iot-audience': `{context.subgraphWs.${name}.audience}`,
    'x-iot-signature': `{context.subgraphWs.${name}.signature}`,
  };
}

type ConnectionSignature = Record<'caller' | 'timestamp' | 'audience' | 'signature', string>;

/** Per subgraph name, the caller's connection signature for it: made when a subscription first needs it. */
function connectionSignatures(
  caller: Caller,
  names: readonly string[],
  secret: string,
  signedAt: number,
): Record<string, ConnectionSignature> {
  const made = new Map<string, ConnectionSignature>();
  const signatures: Record<string, ConnectionSignature> = {};
  for (const name of names) {
    Object.defineProperty(signatures, name, {
      enumerable: true,
      get() {
        let signature = made.get(name);
        if (!signature) {
          const headers: ForwardedHeaders = signConnection(caller, name, secret, signedAt);
          signature = {
            caller: headers['x-iot-caller'],
            timestamp: headers['x-iot-timestamp'],
            audience: headers['x-iot-audience'],
            signature: headers['x-iot-signature'],
          };
          made.set(name, signature);
        }
        return signature;
      },
    });
  }
  return signatures;
}

/** A subgraph URL without its query string, as the supergraph and the transport write it. */
function endpointKey(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function isUnauthenticated(error: { extensions?: Record<string, unknown> }): boolean {
  return error.extensions?.code === 'UNAUTHENTICATED';
}

function credentialsOf(headers: IncomingHttpHeaders): { authorization?: string; apiKey?: string } {
  const apiKey = headers['x-api-key'];
  return { authorization: headers.authorization, apiKey: Array.isArray(apiKey) ? apiKey[0] : apiKey };
}

function lowerCaseStrings(record: Record<string, unknown> | undefined): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(record ?? {})) if (typeof value === 'string') out[key.toLowerCase()] = value;
  return out;
}

/** A router's auth for development, tests and benchmarks: HS256 tokens with the development secret, no API keys. */
export function developmentRouterAuth(subgraphSecret: string): RouterAuth {
  return new RouterAuth({ verifyToken: createTokenVerifier({ secret: DEVELOPMENT_SECRET }), subgraphSecret });
}
