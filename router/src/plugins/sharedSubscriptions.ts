import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getGraphQLWSOptions, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { getOperationAST, Kind, print, visit, type DocumentNode, type ExecutionArgs, type OperationDefinitionNode } from 'graphql';
import type { ServerOptions, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import { createGraphQLError } from 'graphql-yoga';
import { readBody } from '#kit';
import { nextFrame, sseEvents, sseParams, tokenExpiredError, type SseParams } from '../protocol.ts';
import { bodyTooLarge, MAX_BODY_BYTES } from './bodyLimit.ts';
import { DocumentLimits } from './documentLimits.ts';
import { sendGraphQLError } from './httpError.ts';
import type { OperationParamsResult, RouterPlugin, WsContext } from './routerPlugin.ts';
import { SendQueueLimit, type SendQueueLimitOptions } from './sendQueueLimit.ts';
import { SubscriptionFanout } from './subscriptionFanout.ts';

type ConnectionParams = Record<string, unknown> | undefined;

export interface SharedSubscriptionsOptions {
  /** Extra context of every operation, as for `getGraphQLWSOptions`. */
  context: (ctx: WsContext) => Record<string, unknown>;
  /** Back-pressure of each connection; an instance to share it, or its options. */
  sendQueue?: SendQueueLimit | SendQueueLimitOptions;
  /**
   * Beside the operation (normalised document, operation name, variables), what decides who may
   * share an execution: its result must be the same for all of them (the caller's tenant and
   * scopes). Given the HTTP request of an SSE subscription, or the upgrade request of a
   * graphql-ws connection.
   */
  partition: (request: IncomingMessage) => string;
  /** Normalised documents remembered (by a hash of their text), in bytes of printed text. Default 4 MiB. */
  documentCacheBytes?: number;
  /** The size and token limits every document is held to before it is parsed or cached. */
  documentLimits?: DocumentLimits;
  /**
   * What an SSE request's params stand for before anything else reads them (the routers' plugins'
   * `onOperationParams`: the document's size, the persisted operation they name), or the error to
   * refuse them with (HTTP 400). graphql-ws operations are given theirs before `onSubscribe`.
   */
  operationParams?: (params: SseParams, url: string) => OperationParamsResult;
  /** Largest SSE request body read. Default `MAX_BODY_BYTES` (256 KiB). */
  maxBodyBytes?: number;
  /** An SSE response with more than this not yet sent is closed. Default 8 MiB. */
  sseMaxBufferedBytes?: number;
}

export interface SharedSubscriptions {
  /** graphql-ws server options: the runtime's, with subscriptions shared. */
  options: ServerOptions<ConnectionParams, Extra>;
  /**
   * Server-sent events (GraphQL over SSE, distinct connections) with the same sharing, buffer
   * limit and end at `endAt`: answers every request to `/graphql` that accepts
   * `text/event-stream` (GET `?query=`, POST of JSON, of `application/graphql` or of a form); a
   * subscription runs here, anything else is handed on to the runtime. True when it answered.
   */
  sse: (req: IncomingMessage, res: ServerResponse, endAt?: number) => Promise<boolean>;
  fanout: SubscriptionFanout;
  sendQueue: SendQueueLimit;
}

/**
 * graphql-ws served by the gateway runtime, with identical subscriptions sharing one execution.
 *
 * Subscriptions whose normalised document (parse + print), operation name, variables (stable
 * JSON) and partition (who the caller is) are equal run once through the runtime; each event is
 * serialised once and written to every subscriber's socket as
 * `{"id":<its id>,"type":"next","payload":<shared JSON>}`, the bytes joined rather than
 * re-serialised. Errors and completion of the shared execution reach every subscriber as the
 * protocol's Error and Complete (graphql-ws sends those: a subscriber's iterator ends with the
 * execution). Queries, mutations and documents that do not parse take the runtime's normal path.
 * A subscription that replays (`after` a cursor, history `from` a time) runs on its own: it would
 * miss the replay by joining a running execution, or show its replay to those that join it.
 *
 * The shared execution runs with the context of its first subscriber (same partition), and lives
 * until its last subscriber leaves; its events skip graphql-ws' `onNext`.
 */
export function useSharedSubscriptions(runtime: GatewayRuntime, options: SharedSubscriptionsOptions): SharedSubscriptions {
  const base = getGraphQLWSOptions<Record<string, unknown>, Extra>(runtime, (ctx) => ({
    ...options.context(ctx),
    [STREAM_ROUTE]: true,
  })) as ServerOptions<ConnectionParams, Extra>;
  const fanout = new SubscriptionFanout();
  const sendQueue = options.sendQueue instanceof SendQueueLimit ? options.sendQueue : new SendQueueLimit(options.sendQueue);
  const { partition } = options;
  const limits = options.documentLimits ?? new DocumentLimits();
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const documents = new NormalisedDocuments(options.documentCacheBytes ?? 4 << 20, limits);
  // The runtime's execution arguments of the subscriptions to share, with who asked.
  const sharedArgs = new WeakMap<object, { key: string; id: string; ctx: WsContext }>();

  const onSubscribe = async (ctx: WsContext, id: string, payload: SubscribePayload) => {
    const tooLarge = limits.sizeRefusal(payload.query);
    if (tooLarge) return [tooLarge];
    const args = await base.onSubscribe!(ctx, id, payload);
    const document = documents.subscription(payload.query, payload.operationName ?? undefined);
    if (document && !document.replays(payload.variables) && args && !Array.isArray(args)) {
      const key = JSON.stringify([
        partition(ctx.extra.request),
        payload.operationName ?? null,
        document.printed,
        stableJson(payload.variables ?? {}),
      ]);
      sharedArgs.set((args as ExecutionArgs).contextValue as object, { key, id, ctx });
    }
    return args;
  };

  const run = (args: ExecutionArgs) => {
    const shared = sharedArgs.get(args.contextValue as object);
    if (!shared) return base.subscribe!(args);
    const socket = shared.ctx.extra.socket;
    const frame = nextFrame(shared.id);
    return fanout.join(shared.key, () => base.subscribe!(args), {
      next(payload) {
        sendQueue.send(socket, frame(payload));
      },
    });
  };

  const sse = async (req: IncomingMessage, res: ServerResponse, endAt?: number): Promise<boolean> => {
    if (!req.url?.startsWith('/graphql') || !req.headers.accept?.includes('text/event-stream')) return false;
    if (req.method !== 'GET' && req.method !== 'POST') return false;
    let body: string | undefined;
    if (req.method === 'POST') {
      // A body that is the document says its size before it is read: refused unread (the connection closes after the answer).
      const isDocument = req.headers['content-type']?.split(';')[0]!.trim().toLowerCase() === 'application/graphql';
      const declared = Number(req.headers['content-length']);
      if (isDocument && declared > limits.maxDocumentBytes) {
        sendGraphQLError(res, 400, limits.tooLarge(), { connection: 'close' });
        return true;
      }
      body = await readBody(req, maxBodyBytes);
      if (body === undefined) {
        sendGraphQLError(res, 413, bodyTooLarge(maxBodyBytes), { connection: 'close' });
        return true;
      }
    }
    const read = sseParams(req, body);
    if ('error' in read) {
      sendGraphQLError(res, 415, read.error);
      return true;
    }
    let params = read.params;
    // Bounded before anything parses, caches or looks it up.
    const tooLarge = limits.sizeRefusal(params?.query);
    if (tooLarge) {
      sendGraphQLError(res, 400, tooLarge);
      return true;
    }
    const admitted = params && options.operationParams?.(params, req.url);
    if (admitted && 'error' in admitted) {
      sendGraphQLError(res, 400, admitted.error);
      return true;
    }
    if (admitted) params = admitted.params;
    const document =
      typeof params?.query === 'string' ? documents.subscription(params.query, params.operationName ?? undefined) : undefined;
    if (!params || !document) {
      // Not a subscription (or not valid JSON, or not a valid document): the runtime answers it as it would have.
      await forward(runtime, req, res, body);
      return true;
    }
    const request = {
      query: params.query,
      variables: params.variables ?? undefined,
      operationName: params.operationName ?? undefined,
      extensions: params.extensions ?? undefined,
    };
    // A replay is this request's own: it runs unshared (under a key of its own) with the same buffer limit.
    const key = document.replays(request.variables)
      ? Symbol('replay')
      : JSON.stringify([partition(req), request.operationName ?? null, document.printed, stableJson(request.variables ?? {})]);
    res.writeHead(200, sseEvents.headers);
    res.write(sseEvents.opening);
    const limit = options.sseMaxBufferedBytes ?? 8 << 20;
    const serverContext = { params: request, req, waitUntil: runtime.waitUntil, [STREAM_ROUTE]: true };
    const subscriber = fanout.join(key, () => runtime.getResultForParams({ params: request, request: undefined as never }, serverContext), {
      next(payload) {
        // The same back-pressure as a WebSocket: a client that does not read is let go.
        if (res.writableLength > limit) return void res.destroy();
        res.write(sseEvents.next(payload));
      },
    });
    // The response closes when the client goes away (the request's own 'close' fired once its body was read).
    res.on('close', () => void subscriber.return(undefined));
    // A stream lives no longer than the credentials it was opened with.
    const left = endAt === undefined ? Infinity : endAt - Date.now();
    const expiry =
      left < 2 ** 31
        ? setTimeout(
            () => {
              res.write(sseEvents.errors([tokenExpiredError]));
              void subscriber.return(undefined);
            },
            Math.max(0, left),
          )
        : undefined;
    try {
      for await (const _ of subscriber) void _;
    } catch (error) {
      res.write(sseEvents.errors([error]));
    }
    clearTimeout(expiry);
    if (!res.destroyed) res.end(sseEvents.complete);
    return true;
  };

  return { options: { ...base, onSubscribe, subscribe: run, execute: run }, sse, fanout, sendQueue };
}

/** Marks the context of the subscriptions served here: `useSubscriptionRoute` refuses any other. */
const STREAM_ROUTE = 'iotSharedStream';

/**
 * The Yoga plugin that keeps every subscription on the paths above (graphql-ws, and the SSE
 * forms `sse` answers), where the caller's token ends the stream, equal subscriptions are shared
 * and the buffer is bounded: one that reaches the runtime another way (e.g. `Accept:
 * multipart/mixed`) is refused with a clear error instead of streaming around them.
 */
export function useSubscriptionRoute(): RouterPlugin {
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      if ((args.contextValue as unknown as Record<string, unknown> | undefined)?.[STREAM_ROUTE]) return;
      setResultAndStopExecution({
        errors: [
          createGraphQLError(
            'Subscriptions are served over graphql-ws, or as server-sent events (Accept: text/event-stream) by GET ?query= or a POST of JSON, application/graphql or a form',
            {
              extensions: { code: 'BAD_REQUEST', http: { status: 406 } },
            },
          ),
        ],
      });
    },
  };
}

/** Hands a request whose body was already read to the runtime, and its answer back to the client. */
async function forward(runtime: GatewayRuntime, req: IncomingMessage, res: ServerResponse, body: string | undefined): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
  // `req` in the server context: the runtime's plugins find the caller by it, as for any request.
  const response = await runtime.fetch(
    new Request(new URL(req.url ?? '/graphql', 'http://localhost'), {
      method: req.method,
      headers,
      body: req.method === 'GET' ? undefined : (body ?? ''),
    }),
    { req, res },
  );
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) return void res.end();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  res.end();
}

/**
 * The arguments by which a subscription replays what happened before it started (`after` a cursor,
 * history `from` a time). Two subscriptions are identical only when they would deliver the same
 * events from now on: one that replays delivers its own past first, so it never joins a running
 * execution, nor does another join it.
 */
const REPLAY_ARGUMENTS: ReadonlySet<string> = new Set(['after', 'from']);

/** A subscription document, normalised, and whether given variables make it replay. */
export interface SubscriptionDocument {
  printed: string;
  replays(variables: Record<string, unknown> | null | undefined): boolean;
}

/**
 * Where a document can ask for a replay: `always` (a literal replay argument), or the variables
 * that do when they are not null (given, or by their default).
 */
type ReplayUse = { always: boolean; variables: ReadonlyMap<string, boolean> };

function replayUse(operation: OperationDefinitionNode, document: DocumentNode): ReplayUse {
  let always = false;
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (!REPLAY_ARGUMENTS.has(node.name.value)) return;
      if (node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
      else if (node.value.kind !== Kind.NULL) always = true;
    },
  });
  // Per variable: whether its default (used when the variables leave it out) replays.
  const variables = new Map<string, boolean>();
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (names.has(name)) variables.set(name, definition.defaultValue !== undefined && definition.defaultValue.kind !== Kind.NULL);
  }
  return { always, variables };
}

/**
 * Subscription documents in normalised form, by a hash of their operation name and text; `undefined`
 * for anything else. Documents are parsed within the limits (size, then tokens); the cache holds
 * at most `maxBytes` of printed text, the least recently used going first.
 */
class NormalisedDocuments {
  readonly #cache = new Map<string, SubscriptionDocument | null>();
  #bytes = 0;
  constructor(
    readonly maxBytes: number,
    readonly limits: DocumentLimits,
  ) {}

  subscription(query: string, operationName: string | undefined): SubscriptionDocument | undefined {
    if (this.limits.sizeRefusal(query)) return undefined;
    const key = createHash('sha256')
      .update(operationName ?? '')
      .update('\n')
      .update(query)
      .digest('base64url');
    let cached = this.#cache.get(key);
    if (cached !== undefined) {
      // Most recently used last: eviction takes the first.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached ?? undefined;
    }
    cached = null;
    try {
      const document = this.limits.parse(query);
      const operation = getOperationAST(document, operationName);
      if (operation?.operation === 'subscription') {
        const use = replayUse(operation, document);
        cached = {
          printed: print(document),
          replays: (variables) =>
            use.always ||
            [...use.variables].some(([name, byDefault]) =>
              variables && name in variables ? variables[name] !== null && variables[name] !== undefined : byDefault,
            ),
        };
      }
    } catch {
      // Left to the runtime, which answers with the syntax error (or the limit).
      return undefined;
    }
    this.#cache.set(key, cached);
    this.#bytes += NormalisedDocuments.#cost(key, cached);
    for (const [oldKey, old] of this.#cache) {
      if (this.#bytes <= this.maxBytes) break;
      this.#cache.delete(oldKey);
      this.#bytes -= NormalisedDocuments.#cost(oldKey, old);
    }
    return cached ?? undefined;
  }

  /** What an entry holds: its printed text, its key and a Map entry's own overhead. */
  static #cost(key: string, document: SubscriptionDocument | null): number {
    return (document?.printed.length ?? 0) + key.length + 64;
  }
}

/** JSON with object keys sorted, so equal variables give equal text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
