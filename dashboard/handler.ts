import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EnvReader } from '#kit';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A file name without directories or a leading dot: the only shape served. */
const plainFileName = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export interface DashboardOptions {
  /**
   * Origins other than its own the page may send its token to (`?api=<url>` on one of them):
   * `https://api.example.org`. None by default: the page talks to its own origin only.
   */
  apiOrigins?: readonly string[];
}

/**
 * The dashboard's settings from the environment: `DASHBOARD_API_ORIGINS`, a comma-separated list
 * of origins (`https://api.example.org,http://localhost:4000`); throws naming a malformed one.
 */
export function dashboardOptionsFromEnv(env: EnvReader): DashboardOptions {
  const listed = (env.optional('DASHBOARD_API_ORIGINS') ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  return { apiOrigins: listed.map(originOf) };
}

function originOf(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`DASHBOARD_API_ORIGINS: ${JSON.stringify(text.slice(0, 80))} is not an origin like https://api.example.org`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== text.replace(/\/$/, '')) {
    throw new Error(
      `DASHBOARD_API_ORIGINS: ${JSON.stringify(text.slice(0, 80))} is not an origin like https://api.example.org (scheme, host and port only)`,
    );
  }
  return url.origin;
}

/**
 * The live city dashboard: `/` is the page, `/dashboard/<file>` its scripts and styles, and
 * `/dashboard/vendor/{uplot,graphql-ws}/<file>` the browser builds of the charting library and the
 * graphql-ws client, read from where Node resolves those packages (not from the working
 * directory). The page talks only to the GraphQL endpoint, `/graphql` of its own origin, or one
 * named by `?api=<url>` on an origin of `apiOrigins`: the page is told the list (a `<meta>`), and
 * its Content-Security-Policy lets the browser connect nowhere else, so `?api=` cannot send the
 * token to any other origin. Only GET and HEAD of those paths are answered; anything else gives
 * false, for the router's next handler (an `HttpHandler` of `startRouter({ httpHandlers })`).
 */
export function dashboardHandler(options: DashboardOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const apiOrigins = (options.apiOrigins ?? []).map(originOf);
  // Fetches and graphql-ws connections (ws: or wss: of the same hosts) to the page's origin or a listed one only.
  const connectSources = ["'self'", ...apiOrigins.flatMap((origin) => [origin, origin.replace(/^http/, 'ws')])].join(' ');
  const originsMeta = `<meta name="iot-api-origins" content="${apiOrigins.join(' ')}">`;
  const require = createRequire(import.meta.url);
  const roots: Record<string, { dir: string; files?: Set<string> }> = {
    '/dashboard/': { dir: fileURLToPath(new URL('./public/', import.meta.url)) },
    '/dashboard/vendor/uplot/': { dir: dirname(require.resolve('uplot')), files: new Set(['uPlot.esm.js', 'uPlot.min.css']) },
    '/dashboard/vendor/graphql-ws/': { dir: dirname(require.resolve('graphql-ws/client')) },
  };
  // Each directory is listed once, on first use: only files that exist at that time are served.
  const listings = new Map<string, Promise<Set<string>>>();
  const listing = (prefix: string, dir: string) => {
    let files = listings.get(prefix);
    if (!files) {
      files = readdir(dir).then((names) => new Set(names.filter((name) => plainFileName.test(name) && extname(name) in contentTypes)));
      listings.set(prefix, files);
    }
    return files;
  };

  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    let file: string | undefined;
    if (path === '/' || path === '/index.html' || path === '/dashboard' || path === '/dashboard/') {
      file = join(roots['/dashboard/']!.dir, 'index.html');
    } else {
      // Longest prefix first: vendor paths are inside /dashboard/.
      const prefix = Object.keys(roots)
        .filter((p) => path.startsWith(p))
        .sort((a, b) => b.length - a.length)[0];
      if (!prefix) return false;
      const root = roots[prefix]!;
      const name = path.slice(prefix.length);
      const allowed = root.files ?? (await listing(prefix, root.dir));
      if (!plainFileName.test(name) || !allowed.has(name) || !(extname(name) in contentTypes)) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('not found');
        return true;
      }
      file = join(root.dir, name);
    }
    let body: Buffer;
    const page = extname(file) === '.html';
    try {
      body = await readFile(file);
      if (page) body = Buffer.from(body.toString('utf8').replace(/<meta charset="utf-8"\s*\/?>/, (tag) => `${tag}\n    ${originsMeta}`));
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found');
      return true;
    }
    res.writeHead(200, {
      'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...(page ? { 'content-security-policy': `connect-src ${connectSources}` } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
