import { requireScope, Scope, type Caller } from '#auth';
import { GatewayUnavailableError, IqrfStatusError, IqrfTimeoutError, IqrfUnavailableError } from '#iqrf';
import { clipInput, ErrorCode, quoteInput, userError } from '#kit';
import { GraphQLError } from 'graphql';

/** Turns what a gateway's daemon did wrong into an error the client can act on. */
export function toGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  if (error instanceof IqrfTimeoutError) return userError(ErrorCode.GATEWAY_TIMEOUT, error.message, { gatewayId: error.gatewayId });
  if (error instanceof IqrfUnavailableError) return userError(ErrorCode.GATEWAY_TIMEOUT, error.message, { gatewayId: error.gatewayId });
  if (error instanceof GatewayUnavailableError) {
    return userError(ErrorCode.GATEWAY_UNAVAILABLE, error.message, {
      gatewayId: error.gatewayId,
      ...(error.retryAt ? { retryAt: new Date(error.retryAt).toISOString() } : {}),
    });
  }
  if (error instanceof IqrfStatusError)
    return userError(ErrorCode.GATEWAY_ERROR, error.message, { gatewayId: error.gatewayId, status: error.status });
  return new GraphQLError('Unexpected error.', { originalError: error instanceof Error ? error : new Error(String(error)) });
}

/**
 * What a gateway the caller may not see is: for a caller without `devices:read` (anonymous, open
 * data only) the scope error, as any devices query gives it; for the others NOT_FOUND, another
 * tenant's gateway worded exactly as one that does not exist.
 */
export function hiddenGatewayError(caller: Caller, id: string): GraphQLError {
  try {
    requireScope(caller, Scope.DEVICES_READ);
  } catch (error) {
    return toGraphQLError(error);
  }
  return userError(ErrorCode.NOT_FOUND, `No gateway ${quoteInput(id)}`, { id: clipInput(id) });
}
