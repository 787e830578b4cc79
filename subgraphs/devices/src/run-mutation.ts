import { runMutation as runKitMutation } from '#kit';
import type { UserError } from './__generated__/resolvers.ts';
import type { DevicesContext } from './context.ts';
import { toUserError } from './user-errors.ts';

type Payload = { userErrors: UserError[] };

/**
 * Runs one mutation of this subgraph (`runMutation` of `#kit`: user errors, idempotency per key
 * and caller in the subgraph's idempotency store), its expected failures turned into user errors
 * by `toUserError`.
 */
export function runMutation<T extends Payload>(
  ctx: DevicesContext,
  mutation: string,
  input: { idempotencyKey?: string | null },
  failed: Omit<T, 'userErrors'>,
  act: () => Promise<Omit<T, 'userErrors'>>,
): Promise<T> {
  const { exposeInternalErrors, idempotency } = ctx.services;
  return runKitMutation<UserError, T>(
    {
      caller: ctx.caller,
      idempotency,
      toUserError: (error) => toUserError(error, { exposeInternalErrors }),
      shownOnce: ['mqttCredentials'],
    },
    mutation,
    input,
    failed,
    act,
  );
}
