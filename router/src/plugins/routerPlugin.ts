import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import type { GraphQLError } from 'graphql';
import type { Context, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { SseParams } from '../protocol.ts';

/** A graphql-ws connection's context on the router's `ws` server. */
export type WsContext = Context<Record<string, unknown> | undefined, Extra>;

/** An operation's params after a hook: what to go on with, or the error that refuses it. */
export type OperationParamsResult = { params: SseParams } | { error: GraphQLError };

/** An HTTP route beside `/graphql`, admitted as `/graphql` is: the path it owns and what serves it. */
export interface HttpRoute {
  /** A path (`/graphql`), or every path under it when it ends with `/` (`/opendata/`). */
  prefix: string;
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * Hooks of the router's own, for what happens before the runtime sees a request: requests are
 * refused from their headers before any body is read, graphql-ws connections and operations are
 * admitted before equal subscriptions are shared, and SSE is served beside the runtime.
 */
export interface RouterHooks {
  /**
   * An HTTP request to `/graphql` or to a plugin's `routes`, before anything reads its body;
   * resolves false when the hook answered it (refused it). Run in the plugins' order.
   */
  onAdmitRequest?(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean>;
  /** A graphql-ws `connection_init`; resolves false when the hook closed the socket. */
  onAdmitConnection?(ctx: WsContext): boolean | Promise<boolean>;
  /**
   * The params of a graphql-ws or SSE subscription request before anything parses, caches or
   * shares them (equal subscriptions share one execution, so their document must be final here).
   */
  onOperationParams?(params: SseParams, url: string | undefined): OperationParamsResult;
  /** Each graphql-ws operation of an admitted connection; the error that refuses it, if any (an HTTP request is refused by `onAdmitRequest`). */
  onAdmitOperation?(request: IncomingMessage, payload: SubscribePayload): Promise<GraphQLError | undefined>;
  /** Routes beside `/graphql`. */
  routes?: readonly HttpRoute[];
}

/**
 * A router plugin: a Hive Gateway plugin (its hooks run inside the runtime, `onDispose` when it
 * closes) with the router's own hooks. Each cross-cutting concern is one `useX(options)` returning
 * one, in its own file; `startRouter` lists them in the order their hooks run.
 */
export type RouterPlugin = GatewayPlugin & RouterHooks;

/** Runs the plugins' `onAdmitRequest` in order; false as soon as one answered the request. */
export async function admitRequest(plugins: readonly RouterPlugin[], req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  for (const plugin of plugins) if (plugin.onAdmitRequest && !(await plugin.onAdmitRequest(req, res))) return false;
  return true;
}

/** Runs the plugins' `onAdmitConnection` in order; false as soon as one closed the connection. */
export async function admitConnection(plugins: readonly RouterPlugin[], ctx: WsContext): Promise<boolean> {
  for (const plugin of plugins) if (plugin.onAdmitConnection && !(await plugin.onAdmitConnection(ctx))) return false;
  return true;
}

/** Passes an operation's params through every plugin's `onOperationParams`, stopping at the first error. */
export function operationParams(plugins: readonly RouterPlugin[], params: SseParams, url: string | undefined): OperationParamsResult {
  let current = params;
  for (const plugin of plugins) {
    const result = plugin.onOperationParams?.(current, url);
    if (result && 'error' in result) return result;
    if (result) current = result.params;
  }
  return { params: current };
}

/** Runs the plugins' `onAdmitOperation` in order; the first refusal. */
export async function admitOperation(
  plugins: readonly RouterPlugin[],
  request: IncomingMessage,
  payload: SubscribePayload,
): Promise<GraphQLError | undefined> {
  for (const plugin of plugins) {
    const refused = await plugin.onAdmitOperation?.(request, payload);
    if (refused) return refused;
  }
  return undefined;
}
