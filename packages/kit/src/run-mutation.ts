import { createHash } from 'node:crypto';
import type { Caller } from '#auth';
import type { IdempotencyStore } from '#registry';
import type { ErrorCode } from './errors.ts';
import { quoteInput } from './quote.ts';

/** Printable ASCII, 1-255 characters: UUIDs, ULIDs, `order-42/retry`. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * A payload's expected failure, as every subgraph's `UserError` type has it. The codes used here
 * (BAD_USER_INPUT, IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_IN_USE) must be in the subgraph's
 * `UserErrorCode` enum.
 */
export interface MutationUserError {
  code: ErrorCode;
  message: string;
  field: string[] | null;
}

/** What `runMutation` needs of a subgraph's context. */
export interface MutationRunner<E> {
  caller: Caller;
  idempotency: IdempotencyStore;
  /** The user error an expected failure becomes; undefined for anything else (thrown on, masked). */
  toUserError(error: unknown): E | undefined;
  /**
   * Payload fields handed over once (secrets such as a gateway's MQTT password): never kept in
   * the idempotency store, so a retry with the same key gets them as null.
   */
  shownOnce?: readonly string[];
}

type Payload<E> = { userErrors: E[] };

/**
 * Runs one mutation and builds its payload: `act`'s result with no user errors, or `failed` (the
 * payload's objects null) with the user error of an expected failure. Anything unexpected is
 * thrown on (a masked top-level error).
 *
 * With `input.idempotencyKey`, at most once per key and caller: the key is claimed before `act`
 * runs; a result is stored under it (in the idempotency store, as JSON) and returned again to a
 * retry with the same input; the same key with another input (or mutation) is
 * IDEMPOTENCY_KEY_REUSED, and while the first request runs, IDEMPOTENCY_KEY_IN_USE. User errors
 * are not stored (nothing changed), so the key is free again after them.
 */
export async function runMutation<E, T extends Payload<E>>(
  runner: MutationRunner<E>,
  mutation: string,
  input: { idempotencyKey?: string | null },
  failed: Omit<T, 'userErrors'>,
  act: () => Promise<Omit<T, 'userErrors'>>,
): Promise<T> {
  const fail = (error: E | MutationUserError) => ({ ...failed, userErrors: [error] }) as T;
  const attempt = async (): Promise<T> => {
    try {
      return { ...(await act()), userErrors: [] } as unknown as T;
    } catch (error) {
      const userError = runner.toUserError(error);
      if (!userError) throw error;
      return fail(userError);
    }
  };

  const key = input.idempotencyKey;
  if (key === undefined || key === null) return attempt();
  if (!IDEMPOTENCY_KEY.test(key)) {
    return fail({
      code: 'BAD_USER_INPUT',
      message: 'idempotencyKey must be 1-255 printable ASCII characters without spaces',
      field: ['input', 'idempotencyKey'],
    });
  }
  const { idempotency } = runner;
  const { kind, tenant, subject } = runner.caller;
  // Keys are the caller's own: two tenants (or two users) using the same key never meet. Hashed
  // from JSON, as parts may hold any character (a subject `a:b` with key `c` is not `a` with `b:c`).
  const fingerprint = fingerprintOf(mutation, input);
  const state = await idempotency.claim(sha256Json([kind, tenant, subject, key]), fingerprint, sha256Json([kind, tenant, subject]));
  if (state.state !== 'claimed') {
    if (state.fingerprint !== fingerprint) {
      return fail({
        code: 'IDEMPOTENCY_KEY_REUSED',
        message: `idempotencyKey ${quoteInput(key)} was used before with another input or for another mutation; use a new key`,
        field: ['input', 'idempotencyKey'],
      });
    }
    if (state.state === 'running') {
      return fail({
        code: 'IDEMPOTENCY_KEY_IN_USE',
        message: `A request with idempotencyKey ${quoteInput(key)} is still running; retry later to get its result`,
        field: ['input', 'idempotencyKey'],
      });
    }
    return { ...(JSON.parse(state.result) as Omit<T, 'userErrors'>), userErrors: [] } as unknown as T;
  }
  let payload: T;
  try {
    payload = await attempt();
  } catch (error) {
    await idempotency.release(state);
    throw error;
  }
  if (payload.userErrors.length) {
    await idempotency.release(state);
  } else {
    const { userErrors: _none, ...result } = payload as Record<string, unknown>;
    for (const field of runner.shownOnce ?? []) if (field in result) result[field] = null;
    await idempotency.complete(state, JSON.stringify(result));
  }
  return payload;
}

/** What identifies a request beside its key: the mutation and its input, in a canonical form. */
export function fingerprintOf(mutation: string, input: object): string {
  const { idempotencyKey: _key, ...rest } = input as Record<string, unknown>;
  return createHash('sha256')
    .update(`${mutation}\n${canonicalJson(rest)}`)
    .digest('hex');
}

function sha256Json(parts: ReadonlyArray<string | null>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** JSON with sorted keys and without null or absent fields (an omitted optional field equals null). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== null && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
