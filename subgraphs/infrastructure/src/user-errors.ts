import { StepFailedError, TenantExistsError, TenantInputError, UpstreamError } from '#cloud';
import { quoteInput, type ErrorCode } from '#kit';
import type { UserError, UserErrorCode } from './__generated__/resolvers.ts';

// Every user error code is one of the platform's error codes (packages/kit/src/errors.ts).
const _codesAreErrorCodes: UserErrorCode extends ErrorCode ? true : never = true;

/**
 * The `UserError` an expected failure of `onboardTenant` becomes: bad input, a tenant id taken,
 * a step that failed and was rolled back. Undefined for anything else, which stays a top-level
 * (masked) error.
 *
 * Without `exposeInternalErrors` (production) a data-center system's text stays out of the
 * message, which then names the failed step and the outcome only; `runSteps` logged the whole
 * failure.
 */
export function toUserError(error: unknown, { exposeInternalErrors }: { exposeInternalErrors: boolean }): UserError | undefined {
  if (error instanceof TenantInputError) return { code: 'BAD_USER_INPUT', message: error.message, field: ['input', error.field] };
  // Which systems have it is the platform's own knowledge, not a system's answer: said in production too.
  if (error instanceof TenantExistsError)
    return {
      code: 'ALREADY_EXISTS',
      message: `Tenant id ${quoteInput(error.tenant)} is taken (${error.found.join(', ')})`,
      field: ['input', 'id'],
    };
  // A system has an object of that name already (created between our check and our step).
  if (error instanceof UpstreamError && error.status === 409) {
    return {
      code: 'ALREADY_EXISTS',
      message: exposeInternalErrors ? error.message : `${error.system} has an object of that name already`,
      field: ['input', 'id'],
    };
  }
  if (error instanceof UpstreamError)
    return {
      code: 'UPSTREAM_ERROR',
      message: exposeInternalErrors ? error.message : `${error.system} failed; nothing was changed`,
      field: null,
    };
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
