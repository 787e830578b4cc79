import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouteTable } from '#kit';
import type { Logger } from '#log';
import { BadRequest, HttpError } from './errors.ts';

/** Answers one request of a simulated API. */
export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/** One request and its response, as a route's handler gets them. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
}

/** What a route's handler returns: it has answered when this settles (a watch stream keeps going). */
export type Answer = Promise<void> | void;

/** One simulated API: its route table and how it answers what the table does not. */
export interface RoutedApi {
  /** Every path and method it serves, in one place. */
  routes: RouteTable<Exchange, Answer>;
  /** The path routes are matched against (default the URL's path, as sent). */
  path?(url: URL): string;
  /** Answers what no route matched (or throws an `HttpError`). */
  unmatched(exchange: Exchange, path: string): Answer;
  /** Tells an `HttpError` a handler threw in the API's own wire format. */
  tell(res: ServerResponse, error: HttpError): void;
}

/**
 * Serves an API from its route table: the first route for the method and path answers, or
 * `unmatched`; an `HttpError` either throws is answered by `tell`, anything else is left to
 * `listen` (logged, 500).
 */
export function routed(api: RoutedApi): Handler {
  return async (req, res, url) => {
    const exchange: Exchange = { req, res, url };
    const path = api.path ? api.path(url) : url.pathname;
    try {
      const route = api.routes.match(req.method ?? 'GET', path);
      await (route ? route.run(exchange) : api.unmatched(exchange, path));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      api.tell(res, error);
    }
  };
}

/** A path without its trailing slashes, as OpenStack's and Kubernetes' API servers route it. */
export function withoutTrailingSlash(url: URL): string {
  return url.pathname.replace(/\/+$/, '');
}

/** A listening simulated API: its URL, and how to stop it. */
export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `handler` on `host:port` (0: a free port); the URL names `advertisedHost`, what clients reach.
 * An exception in `handler` is logged and answered with 500.
 */
export async function listen(
  name: string,
  host: string,
  logger: Logger,
  handler: Handler,
  port = 0,
  advertisedHost = host,
): Promise<LoopbackServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((error: unknown) => {
        logger.error({ err: error, method: req.method, path: url.pathname }, `${name} simulator failed`);
        if (!res.headersSent) sendJson(res, 500, { message: 'internal error' });
        else res.end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${advertisedHost.includes(':') ? `[${advertisedHost}]` : advertisedHost}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Watch streams never end by themselves.
        server.closeAllConnections();
      }),
  };
}

/**
 * Reads a JSON body (at most 1 MiB); an empty body reads as `undefined`. One that is too large or
 * not JSON throws `BadRequest`, worded by `wording` (default: the problem alone).
 */
export async function readJson(req: IncomingMessage, wording: (problem: string) => string = (problem) => problem): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1 << 20) throw new BadRequest(wording('request body too large'));
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BadRequest(wording(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`));
  }
}

/** Writes `body` as JSON with `status` (and `headers`), as every simulated API but Contrail's errors does. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Writes `text` as plain text with `status`: Contrail's errors. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** Whether a parsed JSON value is an object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a parsed JSON value is an object of strings (labels, annotations). */
export function isStringRecord(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}
