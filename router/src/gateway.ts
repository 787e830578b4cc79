import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { unifiedGraphHandler } from '@graphql-hive/router-runtime';
import httpTransport from '@graphql-mesh/transport-http';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { ThrottledWarnings, type Logger } from '#log';
import { callerPartition } from '#auth';
import { graphiqlOptions, offlineGraphiQL } from './graphiql.ts';
import { AuthenticationError, subgraphWsConnectionParams, type RouterAuth } from './plugins/auth.ts';
import { bodySizeRefusal, MAX_BODY_BYTES, useBodyLimit } from './plugins/bodyLimit.ts';
import { useCostLimit, type CostLimitOptions } from './plugins/costLimit.ts';
import { csrfRefusal, type CsrfPreventionOptions } from './plugins/csrfPrevention.ts';
import { DocumentLimits } from './plugins/documentLimits.ts';
import { maskProductionError, maskRouterError } from './plugins/errors.ts';
import { sendGraphQLError } from './plugins/httpError.ts';
import { PersistedOperations, type PersistedOperationsOptions } from './plugins/persistedOperations.ts';
import { useProductionMode } from './plugins/productionMode.ts';
import { useQueryLimits, type QueryLimitsOptions } from './plugins/queryLimits.ts';
import { RouterRateLimit, type RateLimitOptions } from './plugins/rateLimit.ts';
import { hiveLogger } from './plugins/logger.ts';
import { SendQueueLimit, type SendQueueLimitOptions } from './plugins/sendQueueLimit.ts';
import { useSharedSubscriptions, useSubscriptionRoute } from './plugins/sharedSubscriptions.ts';
import type { SubscriptionFanout } from './plugins/subscriptionFanout.ts';
import { subgraphEndpoints } from './subgraphEndpoints.ts';
import { CloseCode, closeReasons } from './closeCodes.ts';
import { upstreamLossTransport, type UpstreamLoss } from './plugins/upstreamLoss.ts';

export type QueryPlanner = 'rust' | 'js';

/**
 * Serves something beside GraphQL on the router's port (open data downloads, the dashboard):
 * called before GraphQL for every HTTP request; resolves true when it answered the request.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

export interface RouterOptions {
  /** The supergraph SDL; subgraph URLs are taken from it. */
  supergraph: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  logger: Logger;
  /** Checks every caller's credentials and signs the caller into every subgraph request. */
  auth: RouterAuth;
  /** `rust` (default): the Rust query planner of @graphql-hive/router-runtime; `js`: the runtime's own. */
  planner?: QueryPlanner;
  /** How long in-flight HTTP requests may finish on close. Default 5 s. */
  shutdownGraceMs?: number;
  /** Largest WebSocket message accepted, in bytes (a larger one closes the connection with 1009). Default 256 KiB. */
  maxMessageBytes?: number;
  /**
   * Back-pressure of each graphql-ws connection: past `maxBufferedBytes` (default 8 MiB) not yet
   * sent, it is closed with `CloseCode.SlowConsumer` (4801), after which clients reconnect and resume.
   */
  sendQueue?: SendQueueLimitOptions;
  /**
   * Merge concurrent requests to one subgraph into one (`@graphql-tools/batch-execute`). Off by
   * default: its cache grows for as long as a subscription runs.
   */
  batchSubgraphRequests?: boolean;
  /** Tried in order before GraphQL, for paths other than `/graphql` and `/health`. */
  httpHandlers?: readonly HttpHandler[];
  /** Size, depth and estimated cost limits of documents (defaults: 64 KiB, 5000 tokens, 12 levels, cost 5000). */
  limits?: QueryLimitsOptions & CostLimitOptions;
  /** Requests a minute per tenant, API key and anonymous address (see `RateLimitOptions`); none when absent. */
  rateLimit?: RateLimitOptions;
  /** Operations a client may name by id (the typed client's persisted documents), and whether only they run. */
  persistedOperations?: PersistedOperationsOptions;
  /** Refuse the POSTs a page of another site could send without a preflight (CSRF). Default true. */
  csrfPrevention?: boolean | CsrfPreventionOptions;
  /** Largest HTTP request body, in bytes: larger ones get 413. Default 256 KiB. */
  maxBodyBytes?: number;
  /**
   * Production mode: no introspection (INTROSPECTION_DISABLED), no GraphiQL, and errors masked
   * without their original messages or a subgraph's internal details. Default false.
   */
  production?: boolean;
}

/** The router's limits and hardening, as `startPlatform` and the `main.ts` files pass them on. */
export type RouterHardening = Pick<
  RouterOptions,
  'limits' | 'rateLimit' | 'persistedOperations' | 'csrfPrevention' | 'maxBodyBytes' | 'maxMessageBytes' | 'production'
>;

export interface RunningRouter {
  /** `http://host:port/graphql` */
  url: string;
  port: number;
  runtime: GatewayRuntime;
  /** The shared graphql-ws subscriptions and the connections' send queue limit. */
  subscriptions: { fanout: SubscriptionFanout; sendQueue: SendQueueLimit };
  close(): Promise<void>;
}

/**
 * Subgraphs' subscriptions are reached over graphql-ws (same URL, `ws:`), the caller signed into
 * the connection for that subgraph.
 */
function subscriptionTransport(subgraph: string) {
  return {
    options: { subscriptions: { kind: 'ws', location: '/graphql', options: { connectionParams: subgraphWsConnectionParams(subgraph) } } },
  };
}

/**
 * The router: Hive Gateway's runtime serving the supergraph at `/graphql` over HTTP (GraphiQL in
 * a browser, SSE for subscriptions) and graphql-ws on the same path. The supergraph is loaded
 * before the server listens, so `/health` answers 200 only when every transport can serve.
 */
export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { logger, auth } = options;
  const production = options.production ?? false;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const csrf = options.csrfPrevention === false ? undefined : options.csrfPrevention === true ? {} : (options.csrfPrevention ?? {});
  const persisted = options.persistedOperations && new PersistedOperations(options.persistedOperations);
  const rateLimit =
    options.rateLimit && new RouterRateLimit({ ...options.rateLimit, apiKeyLimit: (id) => auth.apiKey(id)?.requestsPerMinute, logger });
  const documentLimits = new DocumentLimits(options.limits);
  const subgraphs = subgraphEndpoints(options.supergraph);
  let endSubscriptionsOnUpstreamLoss: (loss: UpstreamLoss) => void = () => undefined;
  const runtime = createGatewayRuntime({
    supergraph: options.supergraph,
    ...(options.planner === 'js' ? {} : { unifiedGraphHandler }),
    transports: { http: httpTransport, ws: upstreamLossTransport((loss) => endSubscriptionsOnUpstreamLoss(loss)) },
    transportEntries: Object.fromEntries(subgraphs.map(({ name }) => [name, subscriptionTransport(name)])),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthcheck',
    readinessCheckEndpoint: '/readiness',
    landingPage: false,
    graphiql: production ? false : graphiqlOptions,
    renderGraphiQL: offlineGraphiQL(),
    logging: hiveLogger(logger),
    maskedErrors: { maskError: production ? maskProductionError : maskRouterError },
    plugins: () => [
      useBodyLimit(maxBodyBytes),
      // Measured before anything looks the document up, parses or caches it.
      documentLimits.plugin(),
      ...(persisted ? [persisted.plugin()] : []),
      useQueryLimits(options.limits),
      useCostLimit(options.limits),
      ...(production ? [useProductionMode()] : []),
      useSubscriptionRoute(),
      auth.plugin(subgraphs),
    ],
    // Batching keeps a DataLoader per (context, subgraph) that caches every request; a
    // subscription's context lives as long as it does, so each event's entity fetch would stay in
    // memory (about 7 KB an event, measured). The Rust planner already puts all representations
    // of a fetch in one request.
    __experimental__batchExecution: options.batchSubgraphRequests ?? false,
  });
  // Load the supergraph now: graphql-ws connections use it before any HTTP request would.
  await runtime.getSchema();
  let ready = true;

  const handlers = options.httpHandlers ?? [];
  const httpServer: Server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ready ? 'ok' : 'unavailable' }));
      return;
    }
    void serve(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal error"}');
      else res.end();
    });
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://router');
    if (pathname === '/graphql') {
      if (!(await admit(req, res))) return;
      if (await shared.sse(req, res, auth.callerOf(req)?.expiresAt)) return;
      return runtime.requestListener(req, res);
    }
    if (pathname.startsWith('/opendata/') && !(await admit(req, res))) return;
    for (const handler of handlers) if (await handler(req, res)) return;
    // Nothing else reaches the runtime, which would serve GraphQL at any path ending in /graphql.
    sendGraphQLError(
      res,
      404,
      new GraphQLError(`Not found: ${pathname}; GraphQL is served at /graphql`, { extensions: { code: 'NOT_FOUND' } }),
    );
  }
  /**
   * Before GraphQL and the open data downloads: the body's size, CSRF, the caller's credentials
   * (anonymous without any) and its rate limit. False when the request was answered.
   */
  async function admit(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const tooLarge = bodySizeRefusal(req, maxBodyBytes);
    if (tooLarge) {
      // The body is not read: the connection closes after the answer.
      sendGraphQLError(res, 413, tooLarge, { connection: 'close' });
      return false;
    }
    const crossSite = csrf && req.url?.startsWith('/graphql') ? csrfRefusal(req, csrf) : undefined;
    if (crossSite) {
      sendGraphQLError(res, 403, crossSite);
      return false;
    }
    // An address that failed to authenticate too often has its credentials refused unchecked for a while.
    const lockedOut = credentialsIn(req) ? rateLimit?.lockout(req) : undefined;
    if (lockedOut) {
      sendRateLimited(res, lockedOut);
      return false;
    }
    const caller = await auth.authenticateRequest(req, res, async () => {
      const limited = await rateLimit?.failedAuthentication(req);
      if (limited) sendRateLimited(res, limited);
      return !!limited;
    });
    if (!caller) return false;
    return rateLimit ? rateLimit.admitRequest(req, res, caller) : true;
  }
  /**
   * Before each graphql-ws operation: its caller's rate limit, and the persisted document it names
   * (resolved here so that equal subscriptions are shared). Its document, or the error to answer.
   */
  async function admitOperation(
    request: IncomingMessage,
    payload: SubscribePayload,
  ): Promise<{ payload: SubscribePayload } | { error: GraphQLError }> {
    // Measured before anything else reads it (graphql-ws has only parsed the message's JSON).
    const tooLarge = documentLimits.sizeRefusal(payload.query);
    if (tooLarge) return { error: tooLarge };
    const caller = auth.callerOf(request);
    const limited = rateLimit && caller ? await rateLimit.refusal(caller, request) : undefined;
    if (limited) return { error: limited };
    const resolved = persisted?.resolve(payload);
    if (resolved && 'error' in resolved) return resolved;
    return { payload: resolved ? { ...payload, query: resolved.query } : payload };
  }
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: options.maxMessageBytes ?? MAX_BODY_BYTES });
  // A subgraph connection lost under subscriptions: their clients resume from their own cursors
  // (the upstream would otherwise be resubscribed as first asked, with a gap).
  const upstreamWarnings = new ThrottledWarnings(logger);
  endSubscriptionsOnUpstreamLoss = (loss) => {
    let closed = 0;
    for (const client of wsServer.clients) {
      if (client.readyState !== client.OPEN) continue;
      client.close(CloseCode.UpstreamLost, closeReasons[CloseCode.UpstreamLost]);
      closed++;
    }
    if (closed)
      upstreamWarnings.warn(
        'upstream-lost',
        'lost a subgraph connection under subscriptions; closed the graphql-ws connections so that their clients resume with their cursors',
        { code: loss.code, reason: loss.reason, connections: closed },
      );
  };
  refuseOversizeMessagesQuietly(wsServer, new ThrottledWarnings(logger));
  // Identical subscriptions share one execution and one serialisation per event; each
  // connection's send queue is bounded.
  const shared = useSharedSubscriptions(runtime, {
    context: (ctx) => ({ req: ctx.extra.request, socket: ctx.extra.socket }),
    partition: (request) => callerPartition(auth.callerOf(request)!),
    maxBodyBytes,
    documentLimits,
    resolve: persisted && ((params, url) => persisted.resolve(params, url)),
    sendQueue: new SendQueueLimit({
      ...options.sendQueue,
      onSlowConsumer: (_socket, bufferedBytes) => logger.warn({ bufferedBytes }, 'closed a slow graphql-ws consumer'),
    }),
  });
  const wsCleanup = useServer(
    {
      ...shared.options,
      onSubscribe: async (ctx, id, payload) => {
        const admitted = await admitOperation(ctx.extra.request, payload);
        return 'error' in admitted ? [admitted.error] : shared.options.onSubscribe!(ctx, id, admitted.payload);
      },
      // Credentials are checked once per connection; bad ones close it with 4401.
      onConnect: async (ctx) => {
        const lockedOut = rateLimit?.lockout(ctx.extra.request);
        if (lockedOut) {
          ctx.extra.socket.close(4401, `Unauthorized: ${lockedOut.message}`.slice(0, 120));
          return false;
        }
        try {
          const caller = await auth.authenticateConnection(ctx.connectionParams, ctx.extra.request);
          // A connection lives no longer than its token: then the client reconnects with a fresh one.
          if (caller.expiresAt) closeWhenExpired(ctx.extra.socket, caller.expiresAt);
          return true;
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          const limited = await rateLimit?.failedAuthentication(ctx.extra.request);
          ctx.extra.socket.close(4401, `Unauthorized: ${limited?.message ?? error.message}`.slice(0, 120));
          return false;
        }
      },
      // The Rust planner's results carry plain error objects, which graphql-ws would call
      // `toJSON()` on; serialise them ourselves instead of failing the subscription.
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(toFormattedError) } : result),
    },
    wsServer,
  );

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}/graphql`;
  logger.info(
    { url, planner: options.planner ?? 'rust', production, rateLimit: !!rateLimit, persistedOperations: persisted?.size ?? 0 },
    'router ready',
  );

  return {
    url,
    port,
    runtime,
    subscriptions: { fanout: shared.fanout, sendQueue: shared.sendQueue },
    async close() {
      ready = false;
      await wsCleanup.dispose();
      for (const client of wsServer.clients) client.terminate();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      await shared.fanout.close();
      // In-flight requests get a grace period; SSE streams never end on their own.
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const force = setTimeout(() => httpServer.closeAllConnections(), options.shutdownGraceMs ?? 5_000);
      await closed;
      clearTimeout(force);
      await runtime.dispose();
      await rateLimit?.close();
    },
  };
}

/**
 * Closes a graphql-ws connection with `CloseCode.TokenExpired` at `expiresAt`, a code graphql-ws'
 * client retries (4401 it would not), so it reconnects with a fresh token from its
 * `connectionParams` function. Timers wait at most ~24 days at a time.
 */
function closeWhenExpired(socket: WebSocket, expiresAt: number): void {
  let timer: NodeJS.Timeout;
  const check = () => {
    const left = expiresAt - Date.now();
    if (left <= 0) socket.close(CloseCode.TokenExpired, closeReasons[CloseCode.TokenExpired]);
    else timer = setTimeout(check, Math.min(left, 2 ** 31 - 1));
  };
  check();
  socket.once('close', () => clearTimeout(timer));
}

/** Whether a request carries credentials (a token or an API key) that would be checked. */
function credentialsIn(req: IncomingMessage): boolean {
  return req.headers.authorization !== undefined || req.headers['x-api-key'] !== undefined;
}

/** Answers 429 RATE_LIMITED with `Retry-After`. */
function sendRateLimited(res: ServerResponse, error: GraphQLError): void {
  sendGraphQLError(res, 429, error, { 'retry-after': String(error.extensions['retryAfterSeconds']) });
}

function toFormattedError(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  return error instanceof GraphQLError ? error.toJSON() : error;
}

/**
 * A message over `maxPayload` is the client's doing: `ws` has already sent the close (1009) when it
 * reports it, and graphql-ws would log each as an internal error with its stack: a log line per
 * hostile message. The report stops here, counted in one warning an interval. Registered before
 * graphql-ws's listener, so it sees each socket first.
 */
function refuseOversizeMessagesQuietly(wsServer: WebSocketServer, warnings: ThrottledWarnings): void {
  wsServer.on('connection', (socket: WebSocket) => {
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'error' && (args[0] as { code?: string } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        warnings.warn('oversize-ws-message', 'graphql-ws messages over the size limit refused (connections closed with 1009)');
        // The close frame is written: stop reading the rest of the message rather than discard it.
        setImmediate(() => socket.terminate());
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
  });
}
