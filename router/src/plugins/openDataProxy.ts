import { request as httpRequest, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '#log';
import type { SubgraphEndpoint } from '../subgraphEndpoints.ts';
import type { RouterPlugin } from './routerPlugin.ts';

export interface OpenDataProxyOptions {
  /** The open data subgraph, which serves the downloads under `/opendata/` on its own port: its URL's origin is used. */
  upstream: string;
  /** Told of every upstream failure. */
  logger: Logger;
  /** The path the downloads are served under, on both sides. Default `/opendata/`. */
  prefix?: string;
  /**
   * How long the subgraph may stay silent (connecting, before its answer, or between two chunks
   * of it) before the request is given up: 504 when nothing was sent yet. Default 30 s.
   */
  idleTimeoutMs?: number;
}

/** The name of the subgraph whose HTTP port serves the open data downloads. */
export const OPEN_DATA_SUBGRAPH = 'opendata';

/**
 * The open data downloads (DCAT-AP catalogue, CSV/JSON, SensorThings) on the router's port, so
 * the router knows only a supergraph: requests under `/opendata/` are passed to the `opendata`
 * subgraph's own HTTP port once admitted as `/graphql` is (credentials, rate limit), and its answer
 * streamed back with its status and headers. Open data is read only: no request body is passed
 * (the subgraph answers 405 to other methods than GET, HEAD and OPTIONS). When the subgraph cannot
 * be reached: 502 with the downloads' own error shape, `{ "error": { "code", "message" } }`; when
 * it stays silent for `idleTimeoutMs`: 504 in that shape.
 */
export function useOpenDataProxy(options: OpenDataProxyOptions): RouterPlugin {
  const prefix = options.prefix ?? '/opendata/';
  const upstream = new URL(options.upstream);
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  return {
    routes: [
      {
        prefix,
        serve: (req, res) =>
          new Promise<void>((resolve) => {
            // Only the path the route matched goes upstream: a request target such as
            // `//host/opendata/x` or `http://host/opendata/x` resolved against the upstream would
            // choose the host the router connects to.
            const { pathname, search } = new URL(req.url ?? prefix, 'http://router');
            const target = new URL(upstream.origin);
            target.pathname = pathname;
            target.search = search;
            let timedOut = false;
            const outgoing = send(
              target,
              { method: req.method, headers: forwardedHeaders(req.headers, upstream.host), timeout: idleTimeoutMs },
              (answer) => {
                res.writeHead(answer.statusCode ?? 502, passedHeaders(answer.headers));
                answer.pipe(res);
                answer.once('end', resolve);
                answer.once('error', () => {
                  res.destroy();
                  resolve();
                });
              },
            );
            outgoing.once('timeout', () => {
              timedOut = true;
              outgoing.destroy(new Error(`no answer for ${idleTimeoutMs} ms`));
            });
            outgoing.once('error', (error) => {
              if (res.destroyed) return resolve();
              options.logger.warn({ err: error.message, upstream: upstream.origin, path: req.url }, 'open data subgraph unreachable');
              if (!res.headersSent) sendUnavailable(res, timedOut);
              else res.destroy();
              resolve();
            });
            // A client that leaves stops the download upstream too.
            res.once('close', () => {
              if (!res.writableFinished) outgoing.destroy();
              resolve();
            });
            outgoing.end();
          }),
      },
    ],
  };
}

/**
 * Where the downloads are proxied to, by the router's `openDataProxy` option: by default (true)
 * the `opendata` subgraph of the supergraph if it has one, a URL as given, none when false.
 */
export function openDataUpstream(subgraphs: readonly SubgraphEndpoint[], option: boolean | string = true): string | undefined {
  if (typeof option === 'string') return option;
  return option ? subgraphs.find(({ name }) => name === OPEN_DATA_SUBGRAPH)?.url : undefined;
}

/** Headers of one connection (RFC 9110 7.6.1), and the caller's credentials: the subgraph needs neither. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
  'authorization',
  'x-api-key',
  'cookie',
]);

function forwardedHeaders(headers: IncomingHttpHeaders, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { host };
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value;
  return out;
}

function passedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && (!NOT_FORWARDED.has(name) || name === 'content-length')) out[name] = value;
  return out;
}

function sendUnavailable(res: ServerResponse, timedOut: boolean): void {
  const message = timedOut
    ? 'the open data service did not answer in time; try again later'
    : 'the open data service is unavailable; try again later';
  const body = JSON.stringify({ error: { code: 'UPSTREAM_ERROR', message } });
  res.writeHead(timedOut ? 504 : 502, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'access-control-allow-origin': '*',
  });
  res.end(body);
}
