import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { unifiedGraphHandler } from '@graphql-hive/router-runtime';
import httpTransport from '@graphql-mesh/transport-http';
import { callerPartition } from '#auth';
import type { Logger } from '#log';
import { graphiqlOptions, offlineGraphiQL } from './graphiql.ts';
import { createRouterHttpServer, type HttpHandler } from './http.ts';
import { subgraphWsConnectionParams, type RouterAuth } from './plugins/auth.ts';
import { MAX_BODY_BYTES, useBodyLimit } from './plugins/bodyLimit.ts';
import { useCostLimit, type CostLimitOptions } from './plugins/costLimit.ts';
import { useCredentials } from './plugins/credentials.ts';
import { useCsrfPrevention, type CsrfPreventionOptions } from './plugins/csrfPrevention.ts';
import { DocumentLimits, useDocumentLimits } from './plugins/documentLimits.ts';
import { errorMasking } from './plugins/errors.ts';
import { hiveLogger } from './plugins/logger.ts';
import { openDataUpstream, useOpenDataProxy } from './plugins/openDataProxy.ts';
import { PersistedOperations, usePersistedOperations, type PersistedOperationsOptions } from './plugins/persistedOperations.ts';
import { useProductionMode } from './plugins/productionMode.ts';
import { useQueryLimits, type QueryLimitsOptions } from './plugins/queryLimits.ts';
import { RouterRateLimit, useRateLimit, type RateLimitOptions } from './plugins/rateLimit.ts';
import { operationParams, type RouterPlugin } from './plugins/routerPlugin.ts';
import { SendQueueLimit, type SendQueueLimitOptions } from './plugins/sendQueueLimit.ts';
import { useSharedSubscriptions, useSubscriptionRoute } from './plugins/sharedSubscriptions.ts';
import type { SubscriptionFanout } from './plugins/subscriptionFanout.ts';
import { useTokenExpiry } from './plugins/tokenExpiry.ts';
import { upstreamLossTransport, type UpstreamLoss } from './plugins/upstreamLoss.ts';
import { subgraphEndpoints } from './subgraphEndpoints.ts';
import { serveGraphQLWs } from './websocket.ts';

export type { HttpHandler } from './http.ts';

export type QueryPlanner = 'rust' | 'js';

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
  /**
   * Serve the open data downloads at `/opendata/` by passing them to the open data subgraph's own
   * port: true (the default) when the supergraph has an `opendata` subgraph, at its URL's origin;
   * a URL to use another; false for none.
   */
  openDataProxy?: boolean | string;
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
    options: {
      // The HTTP executor shares one subgraph request among identical ones in flight, keyed on the
      // body alone: the caller is signed in later (`onFetch`), so a tenant asking what another asks
      // at the same moment would get the other's answer. Every request is its caller's own.
      deduplicateInflightRequests: false,
      subscriptions: { kind: 'ws', location: '/graphql', options: { connectionParams: subgraphWsConnectionParams(subgraph) } },
    },
  };
}

/**
 * The router: Hive Gateway's runtime serving the supergraph at `/graphql` over HTTP (GraphiQL in
 * a browser, SSE for subscriptions) and graphql-ws on the same path, with each cross-cutting
 * concern a plugin (`plugins/`), listed in the order their hooks run. The supergraph is loaded
 * before the server listens, so `/health` answers 200 only when every transport can serve.
 */
export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { logger, auth } = options;
  const production = options.production ?? false;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const subgraphs = subgraphEndpoints(options.supergraph);
  const documentLimits = new DocumentLimits(options.limits);
  const persisted = options.persistedOperations && new PersistedOperations(options.persistedOperations);
  const rateLimit =
    options.rateLimit && new RouterRateLimit({ ...options.rateLimit, apiKeyLimit: (id) => auth.apiKey(id)?.requestsPerMinute, logger });
  const callerOf = (request: IncomingMessage) => auth.callerOf(request);
  const openData = openDataUpstream(subgraphs, options.openDataProxy);

  const plugins: RouterPlugin[] = [
    useBodyLimit({ maxBytes: maxBodyBytes }),
    ...(options.csrfPrevention === false ? [] : [useCsrfPrevention(options.csrfPrevention === true ? {} : options.csrfPrevention)]),
    useCredentials({ auth, subgraphs, rateLimit }),
    ...(rateLimit ? [useRateLimit({ limiter: rateLimit, callerOf })] : []),
    // Measured before anything looks the document up, parses or caches it.
    useDocumentLimits(documentLimits),
    ...(persisted ? [usePersistedOperations(persisted)] : []),
    useQueryLimits(options.limits),
    useCostLimit(options.limits),
    ...(production ? [useProductionMode()] : []),
    useTokenExpiry({ expiresAt: (request) => callerOf(request)?.expiresAt }),
    useSubscriptionRoute(),
    ...(openData ? [useOpenDataProxy({ upstream: openData, logger })] : []),
  ];
  let onUpstreamLoss: (loss: UpstreamLoss) => void = () => undefined;
  const runtime = createGatewayRuntime({
    supergraph: options.supergraph,
    ...(options.planner === 'js' ? {} : { unifiedGraphHandler }),
    transports: { http: httpTransport, ws: upstreamLossTransport((loss) => onUpstreamLoss(loss)) },
    transportEntries: Object.fromEntries(subgraphs.map(({ name }) => [name, subscriptionTransport(name)])),
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthcheck',
    readinessCheckEndpoint: '/readiness',
    landingPage: false,
    graphiql: production ? false : graphiqlOptions,
    renderGraphiQL: offlineGraphiQL(),
    logging: hiveLogger(logger),
    maskedErrors: errorMasking({ production }),
    plugins: () => plugins,
    // Batching keeps a DataLoader per (context, subgraph) that caches every request; a
    // subscription's context lives as long as it does, so each event's entity fetch would stay in
    // memory (about 7 KB an event, measured). The Rust planner already puts all representations
    // of a fetch in one request.
    __experimental__batchExecution: options.batchSubgraphRequests ?? false,
  });
  // Load the supergraph now: graphql-ws connections use it before any HTTP request would.
  await runtime.getSchema();

  // Identical subscriptions share one execution and one serialisation per event; each
  // connection's send queue is bounded.
  const shared = useSharedSubscriptions(runtime, {
    context: (ctx) => ({ req: ctx.extra.request, socket: ctx.extra.socket }),
    partition: (request) => callerPartition(callerOf(request)!),
    maxBodyBytes,
    documentLimits,
    operationParams: (params, url) => operationParams(plugins, params, url),
    sendQueue: new SendQueueLimit({
      ...options.sendQueue,
      onSlowConsumer: (_socket, bufferedBytes) => logger.warn({ bufferedBytes }, 'closed a slow graphql-ws consumer'),
    }),
  });
  const graphql = {
    prefix: '/graphql',
    async serve(req: IncomingMessage, res: ServerResponse) {
      if (await shared.sse(req, res, callerOf(req)?.expiresAt)) return;
      return runtime.requestListener(req, res);
    },
  };
  let ready = true;
  const httpServer = createRouterHttpServer({
    routes: [graphql, ...plugins.flatMap((plugin) => plugin.routes ?? [])],
    plugins,
    handlers: options.httpHandlers ?? [],
    ready: () => ready,
    logger,
  });
  const ws = serveGraphQLWs({ server: httpServer, path: '/graphql', plugins, shared, maxMessageBytes: options.maxMessageBytes, logger });
  onUpstreamLoss = (loss) => ws.onUpstreamLoss(loss);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}/graphql`;
  logger.info(
    {
      url,
      planner: options.planner ?? 'rust',
      production,
      rateLimit: !!rateLimit,
      persistedOperations: persisted?.size ?? 0,
      openData: openData ?? false,
    },
    'router ready',
  );

  return {
    url,
    port,
    runtime,
    subscriptions: { fanout: shared.fanout, sendQueue: shared.sendQueue },
    async close() {
      ready = false;
      await ws.close();
      await shared.fanout.close();
      // In-flight requests get a grace period; SSE streams never end on their own.
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      const force = setTimeout(() => httpServer.closeAllConnections(), options.shutdownGraceMs ?? 5_000);
      await closed;
      clearTimeout(force);
      // The plugins' resources (the rate limit's store) go with it.
      await runtime.dispose();
    },
  };
}
