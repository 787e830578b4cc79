import { StepFailedError, TenantNotReadyError, UpstreamError } from '#cloud';
import { IqrfStatusError, IqrfTimeoutError, IqrfUnavailableError } from '#iqrf';
import type { ErrorCode } from '#kit';
import type { UserError, UserErrorCode } from './__generated__/resolvers.ts';
import { DiscoveryRunningError } from './sources/mesh-discoveries.ts';

// Every user error code is one of the platform's error codes (packages/kit/src/errors.ts).
const _codesAreErrorCodes: UserErrorCode extends ErrorCode ? true : never = true;

/** An expected failure of a mutation: it reaches the client as a `UserError` of the payload. */
export class MutationFailure extends Error {
  override name = 'MutationFailure';
  constructor(
    readonly code: UserErrorCode,
    message: string,
    /** Path from the mutation's argument to the field at fault, e.g. `['input', 'address']`. */
    readonly field: string[] | null = null,
  ) {
    super(message);
  }
}

/** BAD_USER_INPUT for one input field (`location.latitude` is `['input', 'location', 'latitude']`). */
export function badInput(field: string, message: string): MutationFailure {
  return new MutationFailure('BAD_USER_INPUT', message, ['input', ...field.split('.')]);
}

/**
 * The `UserError` an expected failure becomes: ours, the gateway daemon's (timeout, error status),
 * a step of a multi-system change that failed and was rolled back. Undefined for anything else,
 * which stays a top-level (masked) error.
 *
 * User errors are payload data, which error masking never sees: without `exposeInternalErrors`
 * (production) a data-center system's text (its answer, object names, what is left to clean up)
 * stays out of the message, which then names the failed step and the outcome only; `runSteps`
 * logged the whole failure.
 */
export function toUserError(error: unknown, { exposeInternalErrors }: { exposeInternalErrors: boolean }): UserError | undefined {
  if (error instanceof MutationFailure) return { code: error.code, message: error.message, field: error.field };
  if (error instanceof IqrfTimeoutError || error instanceof IqrfUnavailableError)
    return { code: 'GATEWAY_TIMEOUT', message: error.message, field: null };
  if (error instanceof IqrfStatusError) return { code: 'GATEWAY_ERROR', message: error.message, field: null };
  if (error instanceof DiscoveryRunningError) return { code: 'CONFLICT', message: error.message, field: ['input', 'gatewayId'] };
  if (error instanceof TenantNotReadyError)
    return {
      code: 'BAD_USER_INPUT',
      message: `${error.message}: the tenant must be onboarded first (onboardTenant)`,
      field: ['input', 'tenant'],
    };
  // Kubernetes or Contrail has an object of that name already (e.g. a node named like the gateway).
  if (error instanceof UpstreamError && error.status === 409) {
    return {
      code: 'ALREADY_EXISTS',
      message: exposeInternalErrors ? error.message : `${error.system} has an object of that name already`,
      field: null,
    };
  }
  // Nothing was done yet (the check comes first), and the platform's own words name no internals.
  if (error instanceof StepFailedError && error.cause instanceof TenantNotReadyError)
    return toUserError(error.cause, { exposeInternalErrors });
  if (error instanceof StepFailedError) {
    // The step's own failure says what kind it is; the message adds which step and what was undone.
    const cause = toUserError(error.cause, { exposeInternalErrors });
    return {
      code: cause?.code ?? 'UPSTREAM_ERROR',
      message: exposeInternalErrors ? error.message : error.summary,
      field: cause?.field ?? null,
    };
  }
  return undefined;
}
