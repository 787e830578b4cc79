import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type BaseContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import {
  getOperationAST,
  GraphQLError,
  parse,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { ReplayGuard, SignatureError, verifySignedConnection, verifySignedRequest, type Caller, type SigningOptions } from '#auth';
import type { Logger } from '#log';
import { areClientErrors } from './client-errors.ts';
import { maskError } from './errors.ts';

/** What a subgraph needs from the kit; everything else (health, errors, drain) is the kit's. */
export interface SubgraphOptions<TContext extends BaseContext> {
  /**
   * Used in logs and health answers, and the audience router signatures must name: this
   * subgraph's name in the supergraph (`devices`).
   */
  name: string;
  typeDefs: DocumentNode;
  /** The subgraph's resolver map (its codegen `Resolvers` type), scalars included. */
  resolvers: object;
  /**
   * Builds the context of one operation: called once per HTTP request and once per
   * subscription, so DataLoaders created here never outlive the operation. `caller` is who the
   * router signed the request for.
   */
  context: (request: { headers: Record<string, string | undefined>; caller: Caller }) => TContext | Promise<TContext>;
  /**
   * The secret shared with the router: every request, `_entities` and graphql-ws connections
   * included, must carry the router's signature of its caller, or it is refused (401, or
   * graphql-ws close code 4401).
   */
  trust: SigningOptions;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Serve graphql-ws on the same port and path (`/graphql`). */
  subscriptions?: boolean;
  logger: Logger;
  /** Show the original message of masked errors (development only). */
  exposeInternalErrors?: boolean;
  /** Requests with a larger body are refused with 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Extra readiness check for `/health` (e.g. "the MQTT client is connected"). */
  isReady?: () => boolean;
  /** Tried in order for paths other than `/graphql` and `/health`; true when one answered. */
  httpHandlers?: ReadonlyArray<(req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean>;
}

/** What every subgraph's start function takes beside its sources. */
export interface SubgraphStartOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  logger: Logger;
  exposeInternalErrors?: boolean;
  /** The router's signing secret (see `SubgraphOptions.trust`). */
  trust: SigningOptions;
}

export interface RunningSubgraph {
  name: string;
  /** `http://host:port/graphql` */
  url: string;
  port: number;
  schema: GraphQLSchema;
  /** Stops accepting, lets in-flight requests and subscriptions end, then closes. */
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

/**
 * The one bootstrap of every subgraph: Apollo Server with a Federation v2 subgraph schema on a
 * plain Node HTTP server, graphql-ws on the same port, `/health`, masked unexpected errors and a
 * graceful drain of both HTTP and WebSocket servers.
 */
export async function startSubgraph<TContext extends BaseContext>(options: SubgraphOptions<TContext>): Promise<RunningSubgraph> {
  const { name, logger, maxBodyBytes = 1 << 20 } = options;
  const schema = buildSubgraphSchema({ typeDefs: options.typeDefs, resolvers: options.resolvers as GraphQLResolverMap<unknown> });
  const formatError = maskError(options.exposeInternalErrors ?? false);
  const httpServer = createServer();
  const wsServer = options.subscriptions
    ? new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: maxBodyBytes })
    : undefined;
  const connectionCallers = new WeakMap<object, Caller>();
  const replay = new ReplayGuard();
  // A signature made for another subgraph is refused: it cannot be replayed here.
  const trust = { ...options.trust, audience: name };
  const wsCleanup = wsServer
    ? useServer<Record<string, unknown>>(
        {
          schema,
          // The router signs the connection (its connectionParams), not each subscription.
          onConnect: (ctx) => {
            try {
              connectionCallers.set(
                ctx.extra,
                verifySignedConnection(headersFromConnectionParams(ctx.connectionParams, ctx.extra.request), trust),
              );
              return true;
            } catch (error) {
              if (!(error instanceof SignatureError)) throw error;
              logger.warn({ reason: error.message }, 'refused an unsigned graphql-ws connection');
              ctx.extra.socket.close(4401, `Unauthorized: ${error.message}`);
              return false;
            }
          },
          // A connection's signature may be reused for a while (see #auth signing): it may only
          // subscribe, as the router does; queries and mutations come over HTTP, signed each.
          onSubscribe: (_ctx, _id, payload) =>
            isSubscription(payload.query, payload.operationName)
              ? undefined
              : [
                  new GraphQLError('graphql-ws serves subscriptions only: send queries and mutations over HTTP', {
                    extensions: { code: 'BAD_REQUEST' },
                  }),
                ],
          context: (ctx) =>
            options.context({
              headers: headersFromConnectionParams(ctx.connectionParams, ctx.extra.request),
              caller: connectionCallers.get(ctx.extra)!,
            }),
          onNext: (_ctx, _id, _payload, _args, result) => maskResult(result as ExecutionResult, formatError),
          onError: (_ctx, id, _payload, errors) => {
            // Refusals the client caused (a document that does not validate: no original error;
            // bad arguments) are not the service's trouble.
            const level = errors.every((e) => !e.originalError) || areClientErrors(errors) ? 'info' : 'warn';
            logger[level]({ id, errors: errors.map((e) => e.message) }, 'subscription rejected');
          },
        },
        wsServer,
      )
    : undefined;

  const apollo = new ApolloServer<TContext>({
    schema,
    formatError,
    // No "Did you mean ...?" naming fields unless internals are shown (development): the router's
    // production mode hides the schema.
    hideSchemaDetailsFromClientErrors: !(options.exposeInternalErrors ?? false),
    introspection: true,
    // The service's `runService` stops it on SIGINT/SIGTERM. Apollo's own handlers (on unless
    // NODE_ENV is test) would start a stop of their own first, and Apollo's second `stop()` waits
    // for a barrier its first never resolves: the service's `close()` hung until the 30 s deadline.
    stopOnTerminationSignals: false,
    logger: { debug: (m) => logger.debug(m), info: (m) => logger.info(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup?.dispose();
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  let closing = false;

  httpServer.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      const ready = !closing && (options.isReady?.() ?? true);
      return sendJson(res, ready ? 200 : 503, { name, status: ready ? 'ok' : 'unavailable' });
    }
    const handled = url.pathname === GRAPHQL_PATH ? handleGraphQL(req, res, url) : handleOther(req, res, url);
    handled.catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent)
        sendJson(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.end();
    });
  });

  async function handleOther(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    for (const handler of options.httpHandlers ?? []) if (await handler(req, res)) return;
    sendJson(res, 404, { errors: [{ message: `Not found: ${url.pathname}; GraphQL is served at ${GRAPHQL_PATH}` }] });
  }

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let body: unknown;
    let text = '';
    if (req.method === 'POST') {
      const read = await readBody(req, maxBodyBytes);
      if (read === undefined)
        return sendJson(res, 413, {
          errors: [{ message: `Request body exceeds ${maxBodyBytes} bytes`, extensions: { code: 'BAD_REQUEST' } }],
        });
      text = read;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const plainHeaders = Object.fromEntries(headers);
    let caller: Caller;
    try {
      caller = verifySignedRequest(plainHeaders, { method: req.method ?? 'GET', path: req.url ?? '/', body: text }, { ...trust, replay });
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      logger.warn({ reason: error.message, remote: req.socket.remoteAddress }, 'refused an unsigned request');
      return sendJson(res, 401, { errors: [{ message: `Unauthorized: ${error.message}`, extensions: { code: 'UNAUTHENTICATED' } }] });
    }
    if (req.method === 'POST') {
      try {
        body = text.length ? JSON.parse(text) : undefined;
      } catch {
        return sendJson(res, 400, { errors: [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
      }
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => options.context({ headers: plainHeaders, caller }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}${GRAPHQL_PATH}`;
  logger.info({ url }, `${name} subgraph ready`);

  return {
    name,
    url,
    port,
    schema,
    async close() {
      closing = true;
      // apollo.stop() runs the drain plugins: HTTP connections end, graphql-ws subscriptions complete.
      await apollo.stop();
      for (const client of wsServer?.clients ?? []) client.terminate();
      await new Promise<void>((resolve) => (wsServer ? wsServer.close(() => resolve()) : resolve()));
    },
  };
}

function maskResult(result: ExecutionResult, format: ReturnType<typeof maskError>): ExecutionResult {
  if (!result.errors?.length) return result;
  // graphql-ws passes errors as graphql-js made them, or as plain objects when they came formatted.
  const errors = result.errors.map((error) =>
    format(error instanceof GraphQLError ? error.toJSON() : (error as GraphQLFormattedError), error),
  );
  return { ...result, errors } as unknown as ExecutionResult;
}

// graphql-ws clients (the router among them) send their headers in `connectionParams`.
function headersFromConnectionParams(
  params: Readonly<Record<string, unknown>> | undefined,
  request: IncomingMessage,
): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(request.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  const fromParams = (params?.headers ?? params) as Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fromParams ?? {})) {
    if (typeof value === 'string') headers[key.toLowerCase()] = value;
  }
  return headers;
}

function isSubscription(query: string, operationName: string | null | undefined): boolean {
  try {
    return getOperationAST(parse(query), operationName)?.operation === 'subscription';
  } catch {
    // A syntax error is graphql-ws' to report.
    return true;
  }
}

/** Reads a request body as UTF-8; `undefined` when it exceeds `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
