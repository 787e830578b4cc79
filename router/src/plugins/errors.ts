import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { createGraphQLError, maskError as yogaMaskError } from 'graphql-yoga';
import { clientMessage, intentionalCodes, wrapsUnexpectedError } from '#kit';

export interface ErrorMaskingOptions {
  /** Production's masking (`maskProductionError`) instead of development's (`maskRouterError`). Default false. */
  production?: boolean;
}

/**
 * The error shaping of the router, as the runtime's `maskedErrors` setting (Yoga's masking, with
 * our `maskError`): errors raised on purpose pass, anything else is masked; see the two below.
 * A setting rather than a plugin: Yoga also masks with it the errors thrown before execution (request parsing, params).
 */
export function errorMasking(options: ErrorMaskingOptions = {}): {
  maskError: (error: unknown, message: string, isDev?: boolean) => Error;
} {
  return { maskError: options.production ? maskProductionError : maskRouterError };
}

/**
 * The router's error masking: what a subgraph answered on purpose (an error with a
 * SCREAMING_SNAKE `extensions.code`) reaches the client as it is; anything else is masked by
 * Yoga's default (the original message only in development). Messages are cut short: graphql-js
 * quotes the values it refuses whole.
 *
 * Needed because the Rust planner hands subscription errors over as plain objects, which the
 * default masking cannot tell from crashes.
 */
export function maskRouterError(error: unknown, message: string, isDev?: boolean): Error {
  error = unwrapRefusedSubscription(error);
  if (isFormattedSubgraphError(error)) {
    return new GraphQLError(clientMessage(error.message, { hideSchemaDetails: false }), { path: error.path, extensions: error.extensions });
  }
  const masked = yogaMaskError(error, message, isDev) as GraphQLError;
  const cut = clientMessage(masked.message, { hideSchemaDetails: false });
  return cut === masked.message ? masked : withMessage(masked, cut, masked.extensions);
}

/** Codes Yoga gives the router's own parse and validation errors: the client's mistakes, shown. */
const REQUEST_ERROR_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

/** What a subgraph run in development may add to an error, and no client of production may see. */
const INTERNAL_DETAILS = ['originalMessage', 'originalError', 'stacktrace', 'exception'];

/**
 * Production's masking: only errors raised on purpose keep their message (cut short, without
 * field suggestions): those with one of our codes (`#kit`'s `ErrorCode`: the subgraphs' and the
 * router's own, rate limits, limits, authentication, persisted operations, CSRF), and the
 * router's own parse, validation and variable errors (no path; no code, or the one Yoga gives).
 * Anything else, codes
 * another library gave an exception included (DOWNSTREAM_SERVICE_ERROR, an Apollo code wrapping
 * a crash), becomes `Unexpected error.` with INTERNAL_SERVER_ERROR. Errors that pass keep none of
 * the internal details a subgraph started with `exposeInternalErrors` by mistake would add.
 */
export function maskProductionError(error: unknown, message: string): Error {
  error = unwrapRefusedSubscription(error);
  // By shape: errors may come from another instance of graphql (instanceof would miss them).
  const shaped = error as Partial<GraphQLError> | undefined;
  const code = shaped?.extensions?.code;
  const onPurpose =
    typeof code === 'string' && intentionalCodes.has(code)
      ? true
      : shaped?.path === undefined && (code === undefined || REQUEST_ERROR_CODES.has(code as string));
  if (!onPurpose || (error instanceof Error && wrapsUnexpectedError(error)) || typeof shaped?.message !== 'string') {
    const http = shaped?.extensions?.http;
    return createGraphQLError(message, { path: shaped?.path, extensions: { code: 'INTERNAL_SERVER_ERROR', ...(http ? { http } : {}) } });
  }
  const extensions = Object.fromEntries(Object.entries(shaped.extensions ?? {}).filter(([key]) => !INTERNAL_DETAILS.includes(key)));
  return withMessage(shaped, clientMessage(shaped.message, { hideSchemaDetails: true }), extensions);
}

/** The same error with another message and these extensions (its location and path kept). */
function withMessage(error: Partial<GraphQLError>, message: string, extensions: Record<string, unknown> | undefined): GraphQLError {
  return createGraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions,
  });
}

/**
 * A subscription the subgraph refused before running it (its graphql-ws `error` message: a
 * validation or a scalar's refusal, say `every: "10y"` written in the document) reaches the
 * router as DOWNSTREAM_SERVICE_ERROR wrapping the subgraph's errors: the first of them is what the
 * client should see, with its own code, masked as any other subgraph error would be.
 */
function unwrapRefusedSubscription(error: unknown): unknown {
  const wrapper = error as Partial<GraphQLError> | undefined;
  const inner =
    wrapper?.extensions?.code === 'DOWNSTREAM_SERVICE_ERROR' && Array.isArray(wrapper.originalError)
      ? (wrapper.originalError as unknown[])[0]
      : undefined;
  if (!isFormattedSubgraphError(inner)) return error;
  return new GraphQLError(inner.message, {
    path: wrapper!.path,
    extensions: { ...inner.extensions, ...(wrapper!.extensions?.serviceName ? { serviceName: wrapper!.extensions.serviceName } : {}) },
  });
}

function isFormattedSubgraphError(error: unknown): error is GraphQLFormattedError & { extensions: { code: string } } {
  if (typeof error !== 'object' || error === null || error instanceof Error) return false;
  const { message, extensions } = error as Partial<GraphQLFormattedError>;
  return (
    typeof message === 'string' &&
    typeof extensions?.code === 'string' &&
    /^[A-Z][A-Z0-9_]+$/.test(extensions.code) &&
    extensions.code !== 'INTERNAL_SERVER_ERROR'
  );
}
