import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLError } from 'graphql';
import { unauthorizedClose } from '../protocol.ts';
import type { SubgraphEndpoint } from '../subgraphEndpoints.ts';
import { AuthenticationError, type RouterAuth } from './auth.ts';
import { sendGraphQLError } from './httpError.ts';
import type { RouterRateLimit } from './rateLimit.ts';
import type { RouterPlugin } from './routerPlugin.ts';

export interface CredentialsOptions {
  /** Checks every caller's credentials and signs the caller into every subgraph request. */
  auth: RouterAuth;
  /** The supergraph's subgraphs: each request to one is signed for it (its name is the audience). */
  subgraphs: readonly SubgraphEndpoint[];
  /**
   * Failed authentications take from their address's anonymous budget; past it the address's
   * credentials are refused unchecked until `Retry-After` (429, graphql-ws 4401). None when absent.
   */
  rateLimit?: RouterRateLimit;
}

/**
 * Who is calling, checked once per HTTP request (before its body is read) and once per graphql-ws
 * connection (at `connection_init`): a bearer token, an API key, or none (anonymous). Credentials
 * that do not verify are HTTP 401 UNAUTHENTICATED, or close the connection with 4401. Inside the
 * runtime, the caller goes into the context and is signed into every subgraph request.
 */
export function useCredentials(options: CredentialsOptions): RouterPlugin {
  const { auth, rateLimit } = options;
  return {
    ...auth.plugin(options.subgraphs),
    async onAdmitRequest(req, res) {
      // An address that failed to authenticate too often has its credentials refused unchecked for a while.
      const lockedOut = credentialsIn(req) ? rateLimit?.lockout(req) : undefined;
      if (lockedOut) {
        sendRateLimited(res, lockedOut);
        return false;
      }
      const caller = await auth.authenticateRequest(req, res, async () => {
        const limited = await rateLimit?.failedAuthentication(req);
        if (limited) sendRateLimited(res, limited);
        return !!limited;
      });
      return !!caller;
    },
    async onAdmitConnection(ctx) {
      const { request, socket } = ctx.extra;
      const lockedOut = rateLimit?.lockout(request);
      if (lockedOut) {
        const close = unauthorizedClose(lockedOut.message);
        socket.close(close.code, close.reason);
        return false;
      }
      try {
        await auth.authenticateConnection(ctx.connectionParams, request);
        return true;
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        const limited = await rateLimit?.failedAuthentication(request);
        const close = unauthorizedClose(limited?.message ?? error.message);
        socket.close(close.code, close.reason);
        return false;
      }
    },
  };
}

/** Whether a request carries credentials (a token or an API key) that would be checked. */
function credentialsIn(req: IncomingMessage): boolean {
  return req.headers.authorization !== undefined || req.headers['x-api-key'] !== undefined;
}

/** Answers 429 RATE_LIMITED with `Retry-After`. */
function sendRateLimited(res: ServerResponse, error: GraphQLError): void {
  sendGraphQLError(res, 429, error, { 'retry-after': String(error.extensions['retryAfterSeconds']) });
}
