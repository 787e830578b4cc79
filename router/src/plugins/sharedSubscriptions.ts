import type { IncomingMessage } from 'node:http';
import { getGraphQLWSOptions, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { getOperationAST, parse, print, type ExecutionArgs } from 'graphql';
import type { Context, ServerOptions, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
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
   * share an execution: its result must be the same for all of them. Default: the tenant, the
   * connection's `x-tenant` header and `tenant` connection parameter (absent = '').
   */
  partition?: (ctx: WsContext) => string;
  /** Normalised documents remembered by their text. Default 1000. */
  documentCacheSize?: number;
}

export interface SharedSubscriptions {
  /** graphql-ws server options: the runtime's, with subscriptions shared. */
  options: ServerOptions<ConnectionParams, Extra>;
  fanout: SubscriptionFanout;
  sendQueue: SendQueueLimit;
}

const nextSuffix = Buffer.from('}');

/**
 * graphql-ws served by the gateway runtime, with identical subscriptions sharing one execution.
 *
 * Subscriptions whose normalised document (parse + print), operation name, variables (stable
 * JSON) and partition (the tenant) are equal run once through the runtime; each event is
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
  const partition = options.partition ?? tenantOf;
  const documents = new NormalisedDocuments(options.documentCacheSize ?? 1000);
  // The runtime's execution arguments of the subscriptions to share, with who asked.
  const sharedArgs = new WeakMap<object, { key: string; id: string; ctx: WsContext }>();

  const onSubscribe = async (ctx: WsContext, id: string, payload: SubscribePayload) => {
    const args = await base.onSubscribe!(ctx, id, payload);
    const document = documents.subscription(payload.query, payload.operationName ?? undefined);
    if (document && args && !Array.isArray(args)) {
      const key = JSON.stringify([partition(ctx), payload.operationName ?? null, document, stableJson(payload.variables ?? {})]);
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

  return { options: { ...base, onSubscribe, subscribe: run, execute: run }, fanout, sendQueue };
}

/** The tenant a connection speaks for: its `x-tenant` header and `tenant` connection parameter. */
function tenantOf(ctx: WsContext): string {
  const request: IncomingMessage = ctx.extra.request;
  const header = request.headers['x-tenant'];
  const param = ctx.connectionParams?.tenant;
  return JSON.stringify([Array.isArray(header) ? header.join(',') : (header ?? ''), typeof param === 'string' ? param : '']);
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
