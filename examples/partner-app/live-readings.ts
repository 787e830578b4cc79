import type { GraphQLFormattedError } from 'graphql';
import { print } from 'graphql';
import type { Client } from 'graphql-ws';
import { LiveReadingsDocument, type LiveReadingsSubscription, type LiveReadingsSubscriptionVariables } from '../../clients/typescript/graphql.ts';
import { GraphQLResponseError } from './graphql-http.ts';

/** One event of the `LiveReadings` subscription. */
export type LiveReading = LiveReadingsSubscription['readings'];

export interface FollowOptions {
  /** Reconnections in a row, without a reading in between, before giving up (default 5). */
  maxReconnects?: number;
  /** How long to wait before subscribing again (default 1000 ms). */
  reconnectDelayMs?: number;
  /** Told each time the stream is resumed: after which cursor, and why. */
  onResume?: (after: string | undefined, reason: string) => void;
}

/**
 * The live readings of `LiveReadings`, across dropped connections. It remembers the `cursor` of
 * the last reading it yielded; when the connection drops, or the server ends the stream with
 * SLOW_CONSUMER, it subscribes again with `after` that cursor, so the readings missed meanwhile
 * come first, then live, none twice. Any other GraphQL error (e.g. CURSOR_EXPIRED: the cursor is
 * older than the server keeps) rejects with {@link GraphQLResponseError}.
 *
 * Give it a client created with `retryAttempts: 0`: graphql-ws' own retry would subscribe again
 * with the first variables, i.e. without the cursor, and so lose or repeat readings.
 */
export async function* liveReadings(client: Client, variables: LiveReadingsSubscriptionVariables, options: FollowOptions = {}): AsyncGenerator<LiveReading> {
  const { maxReconnects = 5, reconnectDelayMs = 1_000, onResume } = options;
  const query = print(LiveReadingsDocument);
  let after = variables.after ?? undefined;
  let reconnects = 0;
  for (;;) {
    let reason: string;
    try {
      for await (const result of client.iterate<LiveReadingsSubscription>({ query, variables: { ...variables, after } })) {
        if (result.errors?.length) throw new GraphQLResponseError(result.errors);
        const reading = result.data?.readings;
        if (!reading) continue;
        after = reading.cursor ?? after;
        reconnects = 0;
        yield reading;
      }
      return; // the server completed the stream
    } catch (error) {
      reason = resumableReason(error);
    }
    if (++reconnects > maxReconnects) throw new Error(`gave up after ${maxReconnects} reconnections: ${reason}`);
    await new Promise((resolve) => setTimeout(resolve, reconnectDelayMs));
    onResume?.(after, reason);
  }
}

/** Why the stream may be resumed, or the error rethrown when it may not. */
function resumableReason(error: unknown): string {
  const graphqlErrors = error instanceof GraphQLResponseError ? error.errors : Array.isArray(error) ? (error as GraphQLFormattedError[]) : undefined;
  if (graphqlErrors) {
    // SLOW_CONSUMER: the server ended the stream because we read too slowly; our cursor says where to go on.
    if (graphqlErrors.every((e) => e.extensions?.['code'] === 'SLOW_CONSUMER')) return 'SLOW_CONSUMER';
    throw error instanceof GraphQLResponseError ? error : new GraphQLResponseError(graphqlErrors);
  }
  if (isCloseEvent(error)) {
    // 4400-4409: the server refused the request itself; subscribing again would not help.
    if (error.code >= 4400 && error.code <= 4409) throw new Error(`connection closed: ${error.code} ${error.reason}`);
    return `connection closed: ${error.code} ${error.reason}`.trim();
  }
  // Network errors (the socket could not open, was reset, ...).
  return error instanceof Error ? error.message : String(error);
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number' && 'reason' in value;
}
