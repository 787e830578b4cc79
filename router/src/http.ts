import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Logger } from '#log';
import { sendGraphQLError } from './plugins/httpError.ts';
import { admitRequest, type HttpRoute, type RouterPlugin } from './plugins/routerPlugin.ts';

/**
 * Serves something beside GraphQL on the router's port (the dashboard): called, unadmitted, for
 * every HTTP request no route owns; resolves true when it answered the request.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

export interface RouterHttpServerOptions {
  /** `/graphql`'s route, then the plugins' `routes`: each request to one is admitted by the plugins first. */
  routes: readonly HttpRoute[];
  plugins: readonly RouterPlugin[];
  /** Tried in order for paths no route owns. */
  handlers: readonly HttpHandler[];
  /** Whether `/health` answers 200 (503 while closing). */
  ready: () => boolean;
  logger: Logger;
}

/**
 * The router's HTTP server: `/health`, the admitted routes, the handlers, and 404 NOT_FOUND for
 * anything else (nothing else reaches the runtime, which would serve GraphQL at any path ending
 * in /graphql). A request that fails unexpectedly is logged and answered 500.
 */
export function createRouterHttpServer(options: RouterHttpServerOptions): Server {
  const { routes, plugins, handlers, logger } = options;
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { pathname } = new URL(req.url ?? '/', 'http://router');
    const route = routes.find(({ prefix }) => (prefix.endsWith('/') ? pathname.startsWith(prefix) : pathname === prefix));
    if (route) return (await admitRequest(plugins, req, res)) ? route.serve(req, res) : undefined;
    for (const handler of handlers) if (await handler(req, res)) return;
    sendGraphQLError(
      res,
      404,
      new GraphQLError(`Not found: ${pathname}; GraphQL is served at /graphql`, { extensions: { code: 'NOT_FOUND' } }),
    );
  };
  return createServer((req, res) => {
    if (req.url === '/health') {
      const ready = options.ready();
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
}
