import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { clientMessage } from './client-message.ts';

/**
 * Every error code a client of the platform can see, in one place. Expected errors are thrown
 * as `GraphQLError` with one of these codes; anything else is masked as INTERNAL_SERVER_ERROR.
 */
export const ErrorCode = {
  /** An argument or input field is malformed or out of range. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The id names nothing that exists (or nothing the caller may see). */
  NOT_FOUND: 'NOT_FOUND',
  /** The thing already exists (e.g. a gateway id taken). */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The thing is busy with another operation (e.g. a mesh discovery already runs on the gateway). */
  CONFLICT: 'CONFLICT',
  /** An idempotency key was used before for another mutation or another input. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** A request with the same idempotency key is still running: retry later to get its result. */
  IDEMPOTENCY_KEY_IN_USE: 'IDEMPOTENCY_KEY_IN_USE',
  /** A gateway's IQRF daemon did not answer in time. */
  GATEWAY_TIMEOUT: 'GATEWAY_TIMEOUT',
  /**
   * A gateway's IQRF daemon is not asked now (offline, or failing lately: `extensions.retryAt`)
   * and nothing is known of what was asked yet.
   */
  GATEWAY_UNAVAILABLE: 'GATEWAY_UNAVAILABLE',
  /** A gateway's IQRF daemon answered with an error status. */
  GATEWAY_ERROR: 'GATEWAY_ERROR',
  /** An external system (OpenStack, Contrail, Kubernetes, Graphite) failed or is unreachable. */
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  /** A resume cursor points before the oldest reading the live bus still keeps. */
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
  /** A subscriber fell too far behind the live stream and was ended. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  /** A time range or duration could not be parsed, or asks for too many points. */
  BAD_TIME_RANGE: 'BAD_TIME_RANGE',
  /** No credentials, or credentials that do not verify (HTTP 401 at the router). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The caller's token lacks a scope; `extensions.scope` names it. */
  FORBIDDEN: 'FORBIDDEN',
  /** The tenant or API key made too many requests; `extensions.retryAfterSeconds` says when to retry. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The operation is nested deeper than the router allows (default 12 levels). */
  QUERY_TOO_DEEP: 'QUERY_TOO_DEEP',
  /** The operation's estimated cost is over the router's limit; `extensions.estimatedCost` and `maxCost` say by how much. */
  COST_LIMIT_EXCEEDED: 'COST_LIMIT_EXCEEDED',
  /** The operation selects more fields than the router allows once its fragments are spread (`extensions.fields`, `maxFields`). */
  QUERY_TOO_LARGE: 'QUERY_TOO_LARGE',
  /** The router accepts only persisted operations (`extensions.persistedQuery.sha256Hash` or `documentId`). */
  PERSISTED_QUERY_ONLY: 'PERSISTED_QUERY_ONLY',
  /** No persisted operation has this hash or document id. */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** Introspection is off (the router runs in production mode). */
  INTROSPECTION_DISABLED: 'INTROSPECTION_DISABLED',
  /** A browser's simple request (form or text/plain POST) without a preflight: refused with HTTP 403. */
  CSRF_PREVENTED: 'CSRF_PREVENTED',
  /** The request body is larger than the router accepts (HTTP 413). */
  REQUEST_ENTITY_TOO_LARGE: 'REQUEST_ENTITY_TOO_LARGE',
  /** The request is not one this API serves that way (e.g. a subscription over plain HTTP, a body of another type). */
  BAD_REQUEST: 'BAD_REQUEST',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The codes of errors raised on purpose: they keep their message, in production too. */
export const intentionalCodes: ReadonlySet<string> = new Set<string>(
  Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
);

/** Builds an expected error: it reaches the client with its message and code. */
export function userError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

/**
 * Apollo's `formatError`: errors we threw on purpose, and GraphQL's own validation and parse
 * errors, pass through (their messages cut short, and without field suggestions unless
 * `exposeInternal`); anything else becomes `Unexpected error.` with INTERNAL_SERVER_ERROR, the
 * original message kept only when `exposeInternal` is set (development). A code alone is not
 * enough: Apollo gives codes such as GRAPHQL_VALIDATION_FAILED or BAD_USER_INPUT to errors that
 * wrap an exception (a scalar that crashed), and those are masked.
 */
export function maskError(exposeInternal: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const refused = refusedOnPurpose(error);
    if (refused)
      return { message: refused.message, locations: formatted.locations, path: formatted.path, extensions: { ...refused.extensions } };
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && (intentionalCodes.has(code) || isGraphQLLanguageCode(code)) && !wrapsUnexpectedError(error)) {
      return { ...formatted, message: clientMessage(formatted.message, { hideSchemaDetails: !exposeInternal }) };
    }
    const original = error instanceof GraphQLError ? error.originalError : error;
    return {
      message: 'Unexpected error.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: ErrorCode.INTERNAL_SERVER_ERROR,
        ...(exposeInternal && original instanceof Error ? { originalMessage: original.message } : {}),
      },
    };
  };
}

/**
 * Whether an error is, or wraps, something other than a GraphQLError (an exception nobody raised
 * on purpose). By name: errors may come from another instance of graphql.
 */
export function wrapsUnexpectedError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (!(current instanceof Error)) return typeof current !== 'object';
    if (current.name !== 'GraphQLError') return true;
    current = (current as GraphQLError).originalError;
  }
  return false;
}

/**
 * An error we raised on purpose that Apollo wrapped in one of its own: a scalar refusing a value
 * (a DateTime or Duration out of bounds) is reported by validation (a literal, as
 * GRAPHQL_VALIDATION_FAILED) or by variable coercion (with the whole value in the message), with
 * the error it threw as `originalError`. That error keeps its code and its own message.
 */
function refusedOnPurpose(error: unknown): GraphQLError | undefined {
  const cause = error instanceof GraphQLError ? error.originalError : undefined;
  if (!(cause instanceof GraphQLError) || cause.originalError) return undefined;
  const code = cause.extensions?.code;
  return typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR && intentionalCodes.has(code) ? cause : undefined;
}

// Codes Apollo Server itself assigns to bad requests (parse, validation, variables).
function isGraphQLLanguageCode(code: string): boolean {
  return (
    code === 'GRAPHQL_PARSE_FAILED' ||
    code === 'GRAPHQL_VALIDATION_FAILED' ||
    code === 'BAD_REQUEST' ||
    code === 'PERSISTED_QUERY_NOT_FOUND' ||
    code === 'PERSISTED_QUERY_NOT_SUPPORTED' ||
    code === 'OPERATION_RESOLUTION_FAILURE'
  );
}
