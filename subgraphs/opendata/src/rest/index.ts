import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '#log';
import type { GatewayRegistry } from '#registry';
import type { TimeSeriesStore } from '#telemetry';
import { RouteTable } from '#kit';
import { datasetContent, type DatasetRecord, type OpenDataCatalog } from '#opendata-catalog';
import { PublishedSeries } from '../sources/published-series.ts';
import { toCsv } from './csv.ts';
import { catalogJsonLd, datasetJsonLd, OpenDataUrls } from './dcat.ts';
import { parseDownloadRange, readDatasetTable } from './downloads.ts';
import { OpenDataError, OpenDataErrorCode, send, sendError, sendJson } from './http.ts';
import { createSensorThingsView } from './sensorthings.ts';

export { OpenDataError, OpenDataErrorCode } from './http.ts';
export { dcatContext } from './dcat.ts';
export { MAX_BUCKETS, MAX_SELECTED } from './downloads.ts';

export interface OpenDataHandlerOptions {
  /** What is published; its `publicUrl` is where the router serves `/opendata/`. */
  catalog: OpenDataCatalog;
  /** Where the counters' and sensors' readings are read from. */
  store: TimeSeriesStore;
  /** Who owns each gateway and node now: a sensor publishes only while its node is its publisher's, and only that tenant's readings. */
  registry: Pick<GatewayRegistry, 'getMany'>;
  logger: Logger;
  /** The clock for default and relative ranges (tests fix it). */
  now?: () => number;
}

/**
 * Serves one request whose `url.pathname` is relative to the mount point (`/catalog.jsonld`,
 * not `/opendata/catalog.jsonld`); resolves false, having written nothing, when the path is
 * none of ours.
 */
export type OpenDataHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

const JSON_LD = 'application/ld+json';
const STA_PREFIX = '/sta/v1.1';

/**
 * The open data downloads beside GraphQL, for the router to mount under `/opendata/`:
 *
 * - `GET /catalog.jsonld`: the catalogue as DCAT-AP in JSON-LD
 * - `GET /datasets/<id>`: one dataset's DCAT-AP record (its IRI)
 * - `GET /datasets/<id>.csv|.json?from=&until=&every=`: its data for a range (default: the last
 *   24 hours in 1-hour buckets)
 * - `GET /sta/v1.1/...`: intersections and car parks as OGC SensorThings (read only)
 *
 * Errors are `{ "error": { "code", "message" } }` with 400, 404 or 405; unexpected ones are
 * logged and answered 500 without details. Every parameter is checked before anything is read, so
 * no value of one is a 500: times outside 1970-2100 and durations outside 1 s to 1 year are 400.
 */
export function createOpenDataHandler(options: OpenDataHandlerOptions): OpenDataHandler {
  const { catalog, logger } = options;
  const now = options.now ?? Date.now;
  const urls = new OpenDataUrls(catalog);
  const store = new PublishedSeries(options.store, options.registry, catalog);
  const sensorThings = createSensorThingsView({ catalog, store, baseUrl: urls.sensorThings, now });
  const dcatOptions = { sensorThings: true };
  const datasets = new Map(catalog.datasets.map((dataset) => [dataset.id, dataset]));
  warnAboutDanglingIds(catalog, logger);

  const record = ({ req, res }: Exchange, id: string): void => {
    const dataset = datasetOf(id);
    send(req, res, 200, JSON_LD, JSON.stringify(datasetJsonLd(urls, dataset, dcatOptions)), { 'cache-control': 'public, max-age=300' });
  };

  const download = async ({ req, res, url }: Exchange, id: string, extension: '.csv' | '.json'): Promise<void> => {
    const dataset = datasetOf(id);
    const content = datasetContent(dataset);
    if (!content)
      throw new OpenDataError(
        404,
        OpenDataErrorCode.NOT_FOUND,
        `dataset "${dataset.id}" has no downloads; see its distributions at ${urls.dataset(dataset.id)}`,
      );
    const range = parseDownloadRange(url.searchParams, now());
    const table = await readDatasetTable({ catalog, dataset, content, store, range, params: url.searchParams });
    const from = new Date(range.from).toISOString();
    const until = new Date(range.until).toISOString();
    const headers = {
      'cache-control': 'public, max-age=60',
      'content-disposition': `attachment; filename="${dataset.id}_${compactTime(from)}_${compactTime(until)}${extension}"`,
    };
    if (extension === '.csv') {
      send(req, res, 200, 'text/csv; charset=utf-8', toCsv(table.columns, table.rows), headers);
      return;
    }
    const body = {
      dataset: dataset.id,
      title: dataset.title,
      license: dataset.license,
      from,
      until,
      every: range.every,
      columns: table.columns,
      ...(table.series ? { series: table.series } : {}),
      rows: table.rows,
    };
    sendJson(req, res, 200, body, 'application/json; charset=utf-8', headers);
  };

  /** Every path the mount serves, relative to it; HEAD is answered as GET. */
  const routes = new RouteTable<Exchange, Promise<void> | void>()
    .on('GET', '/catalog.jsonld', ({ req, res }) =>
      send(req, res, 200, JSON_LD, JSON.stringify(catalogJsonLd(urls, dcatOptions)), { 'cache-control': 'public, max-age=300' }),
    )
    .on('GET', '/datasets/{id}.csv', (exchange, { id }) => download(exchange, id, '.csv'))
    .on('GET', '/datasets/{id}.json', (exchange, { id }) => download(exchange, id, '.json'))
    .on('GET', '/datasets/{id}.jsonld', (exchange, { id }) => record(exchange, id))
    .on('GET', '/datasets/{id}', (exchange, { id }) => record(exchange, id))
    .on('GET', `${STA_PREFIX}/{path*}`, async ({ req, res, url }, { path }) =>
      sendJson(req, res, 200, await sensorThings.get(path, url.searchParams)),
    );

  return async (req, res, url) => {
    if (!isClaimed(url.pathname)) return false;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET, HEAD, OPTIONS',
        'access-control-max-age': '86400',
        allow: 'GET, HEAD, OPTIONS',
      });
      res.end();
      return true;
    }
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new OpenDataError(405, OpenDataErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed; open data is read with GET`);
      const route = routes.match('GET', url.pathname);
      if (!route) return false;
      await route.run({ req, res, url });
      return true;
    } catch (error) {
      if (error instanceof OpenDataError) {
        sendError(req, res, error, error.status === 405 ? { allow: 'GET, HEAD, OPTIONS' } : {});
      } else {
        logger.error({ err: error, path: url.pathname }, 'open data request failed');
        sendError(req, res, new OpenDataError(500, OpenDataErrorCode.INTERNAL_SERVER_ERROR, 'internal error'));
      }
      return true;
    }
  };

  function datasetOf(encodedId: string): DatasetRecord {
    const id = decode(encodedId);
    const dataset = datasets.get(id);
    if (!dataset) throw new OpenDataError(404, OpenDataErrorCode.NOT_FOUND, `no dataset "${id}"; the catalogue is at ${urls.catalogIri}`);
    return dataset;
  }
}

/** One request to the mount and its response. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
}

/**
 * The paths the mount answers for, whether a route serves them or not: OPTIONS and other methods
 * than GET are answered there (a GET no route serves is left to the router's 404).
 */
function isClaimed(path: string): boolean {
  return path === '/catalog.jsonld' || path.startsWith('/datasets/') || path === STA_PREFIX || path.startsWith(`${STA_PREFIX}/`);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new OpenDataError(400, OpenDataErrorCode.BAD_USER_INPUT, `"${text}" is not valid percent-encoding`);
  }
}

/** `2026-11-24T10:00:00.000Z` -> `20261124T100000Z`: a file name any system accepts. */
function compactTime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** A dataset naming an intersection or car park the catalogue lacks publishes less than meant. */
function warnAboutDanglingIds(catalog: OpenDataCatalog, logger: Logger): void {
  const known = {
    intersectionIds: new Set(catalog.intersections.map((i) => i.id)),
    parkingLotIds: new Set(catalog.parkingLots.map((p) => p.id)),
  };
  for (const dataset of catalog.datasets) {
    const content = dataset.content;
    if (!content || content.kind === 'sensors') continue;
    const key = content.kind === 'traffic' ? 'intersectionIds' : 'parkingLotIds';
    const missing =
      (content.kind === 'traffic' ? content.intersectionIds : content.parkingLotIds)?.filter((id) => !known[key].has(id)) ?? [];
    if (missing.length) logger.warn({ dataset: dataset.id, missing }, `open data: the dataset names ${key} the catalogue does not have`);
  }
}
