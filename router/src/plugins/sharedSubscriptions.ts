import type { IncomingMessage, ServerResponse } from 'node:http';
import { getGraphQLWSOptions, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { getOperationAST, parse, print, type ExecutionArgs } from 'graphql';
import type { Context, ServerOptions, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import { readBody } from '#kit';
import { SendQueueLimit, type SendQueueLimitOptions } from './sendQueueLimit.ts';
import { SubscriptionFanout } from './subscriptionFanout.ts';

type ConnectionParams = Record<string, unknown> | undefined;
type WsContext = Context<ConnectionParams, Extra>;

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
  /** Normalised documents remembered by their text. Default 1000. */
  documentCacheSize?: number;
  /** Largest SSE request body read. Default 1 MiB. */
  maxBodyBytes?: number;
  /** An SSE response with more than this not yet sent is closed. Default 8 MiB. */
  sseMaxBufferedBytes?: number;
}

export interface SharedSubscriptions {
  /** graphql-ws server options: the runtime's, with subscriptions shared. */
  options: ServerOptions<ConnectionParams, Extra>;
  /**
   * Server-sent events (GraphQL over SSE, distinct connections) with the same sharing: answers a
   * `POST /graphql` that accepts `text/event-stream` and holds a subscription; hands anything
   * else on to the runtime. True when it answered.
   */
  sse: (req: IncomingMessage, res: ServerResponse, endAt?: number) => Promise<boolean>;
  fanout: SubscriptionFanout;
  sendQueue: SendQueueLimit;
}

const nextSuffix = Buffer.from('}');

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
 *
 * The shared execution runs with the context of its first subscriber (same partition), and lives
 * until its last subscriber leaves; its events skip graphql-ws' `onNext`.
 */
export function useSharedSubscriptions(runtime: GatewayRuntime, options: SharedSubscriptionsOptions): SharedSubscriptions {
  const base = getGraphQLWSOptions<Record<string, unknown>, Extra>(runtime, options.context) as ServerOptions<ConnectionParams, Extra>;
  const fanout = new SubscriptionFanout();
  const sendQueue = options.sendQueue instanceof SendQueueLimit ? options.sendQueue : new SendQueueLimit(options.sendQueue);
  const { partition } = options;
  const documents = new NormalisedDocuments(options.documentCacheSize ?? 1000);
  // The runtime's execution arguments of the subscriptions to share, with who asked.
  const sharedArgs = new WeakMap<object, { key: string; id: string; ctx: WsContext }>();

  const onSubscribe = async (ctx: WsContext, id: string, payload: SubscribePayload) => {
    const args = await base.onSubscribe!(ctx, id, payload);
    const document = documents.subscription(payload.query, payload.operationName ?? undefined);
    if (document && args && !Array.isArray(args)) {
      const key = JSON.stringify([partition(ctx.extra.request), payload.operationName ?? null, document, stableJson(payload.variables ?? {})]);
      sharedArgs.set((args as ExecutionArgs).contextValue as object, { key, id, ctx });
    }
    return args;
  };

  const run = (args: ExecutionArgs) => {
    const shared = sharedArgs.get(args.contextValue as object);
    if (!shared) return base.subscribe!(args);
    const socket = shared.ctx.extra.socket;
    const prefix = Buffer.from(`{"id":${JSON.stringify(shared.id)},"type":"next","payload":`);
    return fanout.join(shared.key, () => base.subscribe!(args), {
      next(payload) {
        sendQueue.send(socket, Buffer.concat([prefix, payload, nextSuffix], prefix.length + payload.length + 1));
      },
    });
  };

  const sse = async (req: IncomingMessage, res: ServerResponse, endAt?: number): Promise<boolean> => {
    if (req.method !== 'POST' || !req.url?.startsWith('/graphql') || !req.headers.accept?.includes('text/event-stream')) return false;
    const body = await readBody(req, options.maxBodyBytes ?? 1 << 20);
    let params: SubscribePayload | undefined;
    try {
      params = body === undefined ? undefined : (JSON.parse(body) as SubscribePayload);
    } catch {
      params = undefined;
    }
    const document = typeof params?.query === 'string' ? documents.subscription(params.query, params.operationName ?? undefined) : undefined;
    if (!params || !document) {
      // Not a subscription (or not valid JSON): the runtime answers it as it would have.
      await forward(runtime, req, res, body ?? '');
      return true;
    }
    const request = { query: params.query, variables: params.variables ?? undefined, operationName: params.operationName ?? undefined, extensions: params.extensions ?? undefined };
    const key = JSON.stringify([partition(req), request.operationName ?? null, document, stableJson(request.variables ?? {})]);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(':\n\n');
    const limit = options.sseMaxBufferedBytes ?? 8 << 20;
    const subscriber = fanout.join(key, () => runtime.getResultForParams({ params: request, request: undefined as never }, { params: request, req, waitUntil: runtime.waitUntil }), {
      next(payload) {
        // The same back-pressure as a WebSocket: a client that does not read is let go.
        if (res.writableLength > limit) return void res.destroy();
        res.write(Buffer.concat([sseNextPrefix, payload, sseSuffix]));
      },
    });
    // The response closes when the client goes away (the request's own 'close' fired once its body was read).
    res.on('close', () => void subscriber.return(undefined));
    // A stream lives no longer than the credentials it was opened with.
    const left = endAt === undefined ? Infinity : endAt - Date.now();
    const expiry = left < 2 ** 31 ? setTimeout(() => {
      res.write(`event: next\ndata: ${JSON.stringify({ errors: [{ message: 'Unauthorized: the token has expired', extensions: { code: 'UNAUTHENTICATED' } }] })}\n\n`);
      void subscriber.return(undefined);
    }, Math.max(0, left)) : undefined;
    try {
      for await (const _ of subscriber) void _;
    } catch (error) {
      res.write(`event: next\ndata: ${JSON.stringify({ errors: [{ message: error instanceof Error ? error.message : String(error) }] })}\n\n`);
    }
    clearTimeout(expiry);
    if (!res.destroyed) res.end('event: complete\ndata:\n\n');
    return true;
  };

  return { options: { ...base, onSubscribe, subscribe: run, execute: run }, sse, fanout, sendQueue };
}

const sseNextPrefix = Buffer.from('event: next\ndata: ');
const sseSuffix = Buffer.from('\n\n');

/** Hands a request whose body was already read to the runtime, and its answer back to the client. */
async function forward(runtime: GatewayRuntime, req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
  // `req` in the server context: the runtime's plugins find the caller by it, as for any request.
  const response = await runtime.fetch(new Request(new URL(req.url ?? '/graphql', 'http://localhost'), { method: req.method, headers, body }), { req, res });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) return void res.end();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
  res.end();
}

/** Subscription documents in printed form, by their text; `undefined` for anything else. */
class NormalisedDocuments {
  readonly #cache = new Map<string, string | null>();
  constructor(readonly size: number) {}

  subscription(query: string, operationName: string | undefined): string | undefined {
    const cacheKey = `${operationName ?? ''}\n${query}`;
    let printed = this.#cache.get(cacheKey);
    if (printed === undefined) {
      printed = null;
      try {
        const document = parse(query);
        if (getOperationAST(document, operationName)?.operation === 'subscription') printed = print(document);
      } catch {
        // Left to the runtime, which answers with the syntax error.
      }
      if (this.#cache.size >= this.size) this.#cache.clear();
      this.#cache.set(cacheKey, printed);
    }
    return printed ?? undefined;
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
