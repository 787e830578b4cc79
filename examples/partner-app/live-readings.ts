import type { GraphQLFormattedError } from 'graphql';
import { print } from 'graphql';
import type { Client } from 'graphql-ws';
import {
  LiveReadingsDocument,
  type LiveReadingsSubscription,
  type LiveReadingsSubscriptionVariables,
} from '../../clients/typescript/graphql.ts';
import { GraphQLResponseError } from './graphql-http.ts';

/** One event of the `LiveReadings` subscription. */
export type LiveReading = LiveReadingsSubscription['readings'];

export interface FollowOptions {
  /** Told each time the stream is resumed: after which cursor, and why. */
  onResume?: (after: string | undefined, reason: string) => void;
}

/**
 * The live readings of `LiveReadings`, across dropped connections, with graphql-ws' own retry:
 * give it a client with `shouldRetry: () => true` (the default retries close codes, but a router
 * that dies outright gives a socket error) and `connectionParams` as a function (read on every
 * connection, so a reconnection after the token expired sends a fresh one). The `cursor` of each reading is written into the subscription's variables, which the
 * client sends again as they are when it re-subscribes after a reconnect (a dropped network, a
 * slow consumer, an expired token: the router's close codes it retries), so the stream resumes
 * with `after` the last reading received: the readings missed meanwhile come first, then live,
 * none twice. When the server ends the stream itself with SLOW_CONSUMER it is subscribed again
 * the same way; any other GraphQL error (e.g. CURSOR_EXPIRED: the cursor is older than the server
 * keeps) rejects with {@link GraphQLResponseError}, and a close the client does not retry (4401: a
 * token refused at connection time) or after its last attempt rejects with the close event.
 */
export async function* liveReadings(
  client: Client,
  variables: LiveReadingsSubscriptionVariables,
  options: FollowOptions = {},
): AsyncGenerator<LiveReading> {
  const { onResume } = options;
  const payload = { query: print(LiveReadingsDocument), variables: { ...variables, after: variables.after ?? null } };
  const resume = (reason: string) => onResume?.(payload.variables.after ?? undefined, reason);
  let lastClose = 'connection lost';
  const unlisten = [
    client.on('closed', (event) => (lastClose = describeClose(event))),
    client.on('connected', (_socket, _ack, wasRetry) => wasRetry && resume(lastClose)),
  ];
  try {
    for (;;) {
      try {
        for await (const result of client.iterate<LiveReadingsSubscription>(payload)) {
          if (result.errors?.length) throw new GraphQLResponseError(result.errors);
          const reading = result.data?.readings;
          if (!reading) continue;
          payload.variables.after = reading.cursor ?? payload.variables.after;
          yield reading;
        }
        return; // the server completed the stream
      } catch (error) {
        // SLOW_CONSUMER: the server ended the stream because we read too slowly; our cursor says where to go on.
        if (!isSlowConsumer(error)) throw Array.isArray(error) ? new GraphQLResponseError(error as GraphQLFormattedError[]) : error;
        resume('SLOW_CONSUMER');
      }
    }
  } finally {
    for (const stop of unlisten) stop();
  }
}

function isSlowConsumer(error: unknown): boolean {
  const errors = error instanceof GraphQLResponseError ? error.errors : Array.isArray(error) ? (error as GraphQLFormattedError[]) : [];
  return errors.length > 0 && errors.every((e) => e.extensions?.['code'] === 'SLOW_CONSUMER');
}

/** `closed 4801 slow consumer: ...` for a close event, else the error's message. */
function describeClose(event: unknown): string {
  if (typeof event === 'object' && event !== null && typeof (event as { code?: unknown }).code === 'number') {
    const { code, reason } = event as { code: number; reason?: unknown };
    return `connection closed: ${code} ${typeof reason === 'string' ? reason : ''}`.trim();
  }
  return event instanceof Error ? event.message : 'connection lost';
}
