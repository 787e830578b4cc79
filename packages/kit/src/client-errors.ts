import { ErrorCode } from './errors.ts';

/**
 * Codes of errors the caller caused (its input, its credentials, its limits), ours and GraphQL's
 * own: the API answered them as it should, so they are logged at info level without a stack,
 * never as errors. Upstream and gateway failures (`UPSTREAM_ERROR`, `GATEWAY_*`) are not here.
 */
export const clientErrorCodes: ReadonlySet<string> = new Set<string>([
  ErrorCode.BAD_USER_INPUT,
  ErrorCode.NOT_FOUND,
  ErrorCode.ALREADY_EXISTS,
  ErrorCode.CONFLICT,
  ErrorCode.IDEMPOTENCY_KEY_REUSED,
  ErrorCode.IDEMPOTENCY_KEY_IN_USE,
  ErrorCode.CURSOR_EXPIRED,
  ErrorCode.SLOW_CONSUMER,
  ErrorCode.BAD_TIME_RANGE,
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.FORBIDDEN,
  ErrorCode.RATE_LIMITED,
  ErrorCode.QUERY_TOO_DEEP,
  ErrorCode.COST_LIMIT_EXCEEDED,
  ErrorCode.QUERY_TOO_LARGE,
  ErrorCode.PERSISTED_QUERY_ONLY,
  ErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ErrorCode.INTROSPECTION_DISABLED,
  ErrorCode.CSRF_PREVENTED,
  ErrorCode.REQUEST_ENTITY_TOO_LARGE,
  ErrorCode.BAD_REQUEST,
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/** True when every GraphQL error given (formatted or not) carries a client error code. */
export function areClientErrors(errors: readonly unknown[]): boolean {
  return (
    errors.length > 0 &&
    errors.every((error) => {
      const code = (error as { extensions?: { code?: unknown } } | null | undefined)?.extensions?.code;
      return typeof code === 'string' && clientErrorCodes.has(code);
    })
  );
}
