import type { IncomingMessage } from 'node:http';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { CloseCode as GraphQLWsCloseCode, MessageType, type FormattedExecutionResult, type SubscribePayload } from 'graphql-ws';
import { createGraphQLError } from 'graphql-yoga';
import { CloseCode, closeReasons } from './closeCodes.ts';

/**
 * The wire formats of the router's subscriptions, in one place: the graphql-ws frames the router
 * writes itself (`graphql-transport-ws`, built from graphql-ws' own `MessageType`), the events of
 * GraphQL over server-sent events (distinct connections: `next` events carrying an execution
 * result, then `complete`), the close codes and reasons, and how errors are put on the wire. Every
 * frame and event made here passes graphql-ws' `validateMessage` (test/unit/router-protocol.test.ts).
 * Nothing here knows a socket.
 */

/** An error as the wire carries it: a GraphQLError serialised, a plain error object (the Rust planner's) as it is, anything else by its message. */
export function formatError(error: unknown): GraphQLFormattedError {
  if (error instanceof GraphQLError) return error.toJSON();
  // A GraphQLError of another copy of graphql has its own toJSON; any other Error serialises as {}.
  if (error instanceof Error) {
    const { toJSON } = error as Error & { toJSON?: () => GraphQLFormattedError };
    return typeof toJSON === 'function' ? toJSON.call(error) : { message: error.message };
  }
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string')
    return error as GraphQLFormattedError;
  return { message: String(error) };
}

/**
 * A result ready for the wire. The Rust planner's results carry plain error objects, which
 * graphql-ws would call `toJSON()` on; they are serialised here instead of failing the subscription.
 */
export function formatResult<T extends { errors?: readonly unknown[] }>(result: T): T {
  return result.errors ? { ...result, errors: result.errors.map(formatError) } : result;
}

/** What ends a server-sent events stream whose credentials expired (graphql-ws closes with `CloseCode.TokenExpired` instead). */
export const tokenExpiredError: GraphQLFormattedError = {
  message: 'Unauthorized: the token has expired',
  extensions: { code: 'UNAUTHENTICATED' },
};

/**
 * The graphql-ws `next` frame of operation `id` around a result serialised once for every
 * subscriber: the bytes are joined, not serialised again. The frame's shape comes from a real
 * message, so it stays what graphql-ws' own `stringifyMessage` would write.
 */
export function nextFrame(id: string): (payload: Buffer) => Buffer {
  const [prefix, suffix] = JSON.stringify({ id, type: MessageType.Next, payload: PAYLOAD }).split(PAYLOAD_JSON) as [string, string];
  const head = Buffer.from(prefix);
  const tail = Buffer.from(suffix);
  return (payload) => Buffer.concat([head, payload, tail], head.length + payload.length + tail.length);
}

/** A stand-in the payload's serialisation replaces; no JSON of a result contains it. */
const PAYLOAD = '\u0000payload\u0000';
const PAYLOAD_JSON = JSON.stringify(PAYLOAD);

/** A close of a graphql-ws connection: its code and reason (at most 123 bytes, as a close frame allows). */
export interface Close {
  code: number;
  reason: string;
}

/**
 * A connection refused at `connection_init` (missing or bad credentials, or an address locked out):
 * graphql-ws' 4401, which its client does not retry, since the same credentials would not help.
 */
export function unauthorizedClose(message: string): Close {
  return { code: GraphQLWsCloseCode.Unauthorized, reason: closeReason(`Unauthorized: ${message}`) };
}

/** A close of the router's own (4801-4803), which graphql-ws' client retries; see `CloseCode`. */
export function routerClose(code: CloseCode): Close {
  return { code, reason: closeReasons[code] };
}

/** A reason cut to what a close frame holds (123 bytes of UTF-8). */
function closeReason(reason: string): string {
  let cut = reason.slice(0, 123);
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  return cut;
}

/**
 * GraphQL over server-sent events, distinct connections mode (as graphql-sse): the response's
 * headers, a comment that opens the stream at once, one `next` event per result, `complete` last.
 */
export const sseEvents = {
  headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' },
  opening: ':\n\n',
  /** A `next` event around a result serialised once for every subscriber. */
  next(payload: Buffer): Buffer {
    return Buffer.concat([SSE_NEXT, payload, SSE_END]);
  },
  /** A `next` event carrying only errors: how a stream tells why it ends. */
  errors(errors: readonly unknown[]): string {
    const result: FormattedExecutionResult = { errors: errors.map(formatError) };
    return `event: ${MessageType.Next}\ndata: ${JSON.stringify(result)}\n\n`;
  },
  complete: `event: ${MessageType.Complete}\ndata:\n\n`,
} as const;

const SSE_NEXT = Buffer.from(`event: ${MessageType.Next}\ndata: `);
const SSE_END = Buffer.from('\n\n');

/** What an SSE request asks for: graphql-ws' subscribe payload, and a persisted document's id. */
export type SseParams = SubscribePayload & { documentId?: unknown };

/**
 * The params of an SSE request: from the URL of a GET, a JSON body, an `application/graphql`
 * body (the document) or a form. Undefined params when the body is not what it says (the runtime
 * answers that); an error for a body of another type.
 */
export function sseParams(req: IncomingMessage, body: string | undefined): { params: SseParams | undefined } | { error: GraphQLError } {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (req.method === 'GET') return { params: paramsOfSearch(new URL(req.url ?? '/', 'http://router').searchParams) };
  if (type === 'application/json' || type === 'application/graphql-response+json' || type === '') {
    try {
      const value = JSON.parse(body ?? '') as unknown;
      return { params: value && typeof value === 'object' && !Array.isArray(value) ? (value as SseParams) : undefined };
    } catch {
      return { params: undefined };
    }
  }
  if (type === 'application/graphql') return { params: { query: body ?? '' } };
  if (type === 'application/x-www-form-urlencoded') return { params: paramsOfSearch(new URLSearchParams(body)) };
  return {
    error: createGraphQLError(
      `Server-sent events take a GET with ?query=, or a POST of application/json, application/graphql or a form; not ${JSON.stringify(type.slice(0, 60))}`,
      { extensions: { code: 'BAD_REQUEST' } },
    ),
  };
}

/** Params of a query string or form; undefined when its variables or extensions are not JSON. */
function paramsOfSearch(search: URLSearchParams): SseParams | undefined {
  const json = (name: string): unknown => {
    const text = search.get(name);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return null;
    }
  };
  const variables = json('variables');
  const extensions = json('extensions');
  if (variables === null || extensions === null) return undefined;
  return {
    query: (search.get('query') ?? undefined) as string,
    operationName: search.get('operationName'),
    variables: variables as SseParams['variables'],
    extensions: extensions as SseParams['extensions'],
    documentId: search.get('documentId') ?? undefined,
  };
}
