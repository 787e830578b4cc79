import type { IncomingMessage } from 'node:http';
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { sendGraphQLError } from './httpError.ts';
import type { RouterPlugin } from './routerPlugin.ts';

export interface CsrfPreventionOptions {
  /** Headers that force a browser's preflight; one of them lets a request through whatever its content type. */
  requestHeaders?: readonly string[];
}

/** Content types a browser sends cross-site without asking first (CORS "simple" requests). */
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * CSRF prevention for `/graphql`, as Apollo Server's and Yoga's: a POST that a page of another site could make
 * without a CORS preflight (a form, or `fetch` with a text/plain body) is refused with HTTP 403
 * (CSRF_PREVENTED), unless it carries one of `requestHeaders`. JSON bodies, the dashboard's
 * `fetch`, SSE and graphql-ws are untouched.
 *
 * GETs pass: they run queries only (Yoga refuses mutations over GET) and this API's credentials
 * are headers a browser never adds on its own (no cookies), so a forged GET is an anonymous read;
 * requiring a header would break `EventSource` subscriptions and cacheable persisted GETs.
 */
export function useCsrfPrevention(options: CsrfPreventionOptions = {}): RouterPlugin {
  // Ours, not Yoga's useCSRFPrevention: that one refuses GETs without a custom header too (EventSource, persisted GETs).
  return {
    onAdmitRequest(req, res) {
      const refused = req.url?.startsWith('/graphql') ? csrfRefusal(req, options) : undefined;
      if (refused) sendGraphQLError(res, 403, refused);
      return !refused;
    },
  };
}

/** The CSRF_PREVENTED error of a request a page of another site could have sent, or undefined. */
export function csrfRefusal(req: IncomingMessage, options: CsrfPreventionOptions = {}): GraphQLError | undefined {
  if (req.method !== 'POST') return undefined;
  const contentType = req.headers['content-type']?.toLowerCase().trim();
  if (contentType && !SIMPLE_CONTENT_TYPES.some((simple) => contentType.startsWith(simple))) return undefined;
  const requestHeaders = options.requestHeaders ?? defaultPreflightHeaders;
  if (requestHeaders.some((name) => req.headers[name] !== undefined)) return undefined;
  return createGraphQLError(
    `This request could have been sent by any web page (content type "${contentType ?? 'none'}"): send the operation as application/json, or add a header such as x-graphql-csrf`,
    { extensions: { code: 'CSRF_PREVENTED' } },
  );
}

/** Custom headers of common GraphQL clients, and this API's credentials (neither is CORS-safelisted). */
const defaultPreflightHeaders = [
  'x-graphql-csrf',
  'x-graphql-yoga-csrf',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'graphql-client-name',
  'authorization',
  'x-api-key',
];
