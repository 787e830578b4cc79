import { datasetContent, type DatasetRecord, type GeoPoint, type OpenDataCatalog } from '#opendata-catalog';

/**
 * The catalogue as DCAT-AP 3 in JSON-LD (compact IRIs under one `@context`, typed literals),
 * the shape the Czech national catalogue (DCAT-AP-CZ) and data.europa.eu harvest.
 */

/** Prefixes of the vocabularies used; partners' harvesters expand compact IRIs with these. */
export const dcatContext = {
  dcat: 'http://www.w3.org/ns/dcat#',
  dct: 'http://purl.org/dc/terms/',
  foaf: 'http://xmlns.com/foaf/0.1/',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  rdfs: 'http://www.w3.org/2000/01/rdf-schema#',
  locn: 'http://www.w3.org/ns/locn#',
  gsp: 'http://www.opengis.net/ont/geosparql#',
} as const;

const EU_THEME = 'http://publications.europa.eu/resource/authority/data-theme/';
const EU_FREQUENCY = 'http://publications.europa.eu/resource/authority/frequency/';
const EU_FILE_TYPE = 'http://publications.europa.eu/resource/authority/file-type/';
const IANA_MEDIA_TYPE = 'http://www.iana.org/assignments/media-types/';
const GRAPHQL_SPEC = 'https://spec.graphql.org/';
const SENSORTHINGS_SPEC = 'http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel';
/** File types of the EU authority table that our formats map to. */
const euFileTypes = new Set(['CSV', 'JSON', 'JSON_LD', 'XML', 'GEOJSON', 'RDF_XML', 'RDF_TURTLE']);

type JsonLd = Record<string, unknown>;

/** The URLs the handler serves, all under `<publicUrl>/opendata`. */
export class OpenDataUrls {
  readonly base: string;

  constructor(readonly catalog: OpenDataCatalog) {
    this.base = `${catalog.publicUrl.replace(/\/+$/, '')}/opendata`;
  }

  get catalogIri(): string {
    return `${this.base}/catalog.jsonld`;
  }
  dataset(id: string): string {
    return `${this.base}/datasets/${encodeURIComponent(id)}`;
  }
  download(id: string, format: 'csv' | 'json'): string {
    return `${this.dataset(id)}.${format}`;
  }
  get sensorThings(): string {
    return `${this.base}/sta/v1.1`;
  }
  /** A catalogue path (`/graphql`) as an absolute URL of the public API. */
  api(path: string): string {
    return new URL(path, this.catalog.publicUrl).toString();
  }
}

/** The whole catalogue: a `dcat:Catalog` with every dataset and the services behind them. */
export function catalogJsonLd(urls: OpenDataUrls, options: { sensorThings: boolean }): JsonLd {
  const { catalog } = urls;
  const publisher = catalog.publisher ?? catalog.datasets[0]?.publisher;
  const modified = catalog.datasets
    .map((d) => d.modified)
    .sort()
    .at(-1);
  return {
    '@context': dcatContext,
    '@id': urls.catalogIri,
    '@type': 'dcat:Catalog',
    'dct:title': catalog.title ?? (publisher ? `Open data of ${publisher}` : 'Open data'),
    'dct:description':
      catalog.description ??
      'Datasets of the IoT platform: traffic counts, car park occupancy and environment readings, as downloads (CSV, JSON) and APIs (GraphQL, OGC SensorThings).',
    ...(publisher ? { 'dct:publisher': agent(publisher) } : {}),
    'foaf:homepage': { '@id': catalog.publicUrl },
    ...(modified ? { 'dct:modified': dateTime(modified) } : {}),
    'dcat:dataset': catalog.datasets.map((dataset) => datasetNode(urls, dataset, options)),
    'dcat:service': dataServices(urls, options),
  };
}

/** One dataset as its own JSON-LD document (what its IRI answers). */
export function datasetJsonLd(urls: OpenDataUrls, dataset: DatasetRecord, options: { sensorThings: boolean }): JsonLd {
  return { '@context': dcatContext, ...datasetNode(urls, dataset, options), 'dcat:inCatalog': { '@id': urls.catalogIri } };
}

function datasetNode(urls: OpenDataUrls, dataset: DatasetRecord, options: { sensorThings: boolean }): JsonLd {
  const iri = urls.dataset(dataset.id);
  const content = datasetContent(dataset);
  const license = licenseNode(dataset.license);
  const frequency = frequencyIri(dataset.accrualPeriodicity);
  const place = location(urls.catalog, dataset);
  const spatial = [...(dataset.spatial ?? []).map((id) => ({ '@id': id })), ...(place ? [place] : [])];
  const distributions: JsonLd[] = dataset.distributions.map((distribution) => {
    const accessUrl = urls.api(distribution.accessPath);
    const graphql = distribution.format.toLowerCase() === 'graphql';
    return {
      '@id': `${iri}#${slug(distribution.format)}`,
      '@type': 'dcat:Distribution',
      'dct:title': distribution.title,
      'dcat:accessURL': { '@id': accessUrl },
      'dcat:mediaType': mediaTypeNode(distribution.mediaType),
      'dct:format': formatNode(distribution.format),
      'dct:license': license,
      ...(graphql ? { 'dcat:accessService': { '@id': serviceIri(urls, 'graphql') } } : {}),
    };
  });
  if (content) {
    for (const format of ['csv', 'json'] as const) {
      const url = urls.download(dataset.id, format);
      distributions.push({
        '@id': `${iri}#${format}`,
        '@type': 'dcat:Distribution',
        'dct:title': `${dataset.title} (${format.toUpperCase()})`,
        'dct:description': `The last 24 hours in 1-hour buckets; other ranges with ?from=&until=&every= (ISO-8601 or relative like -7d; 10min, 1h, 1d).`,
        'dcat:accessURL': { '@id': url },
        'dcat:downloadURL': { '@id': url },
        'dcat:mediaType': mediaTypeNode(format === 'csv' ? 'text/csv' : 'application/json'),
        'dct:format': formatNode(format),
        'dct:license': license,
      });
    }
    if (options.sensorThings && content.kind !== 'sensors') {
      distributions.push({
        '@id': `${iri}#sensorthings`,
        '@type': 'dcat:Distribution',
        'dct:title': `${dataset.title} (OGC SensorThings API)`,
        'dcat:accessURL': { '@id': `${urls.sensorThings}/Things` },
        'dcat:accessService': { '@id': serviceIri(urls, 'sensorthings') },
        'dcat:mediaType': mediaTypeNode('application/json'),
        'dct:format': formatNode('json'),
        'dct:conformsTo': { '@id': SENSORTHINGS_SPEC },
        'dct:license': license,
      });
    }
  }
  return {
    '@id': iri,
    '@type': 'dcat:Dataset',
    'dct:identifier': dataset.id,
    'dct:title': dataset.title,
    'dct:description': dataset.description,
    'dcat:theme': dataset.themes.map((theme) => ({ '@id': theme.includes(':') ? theme : `${EU_THEME}${theme.toUpperCase()}` })),
    'dcat:keyword': dataset.keywords,
    'dct:license': license,
    'dct:publisher': agent(dataset.publisher),
    'dcat:contactPoint': { '@type': 'vcard:Organization', 'vcard:fn': dataset.publisher },
    'dct:modified': dateTime(dataset.modified),
    ...(frequency ? { 'dct:accrualPeriodicity': { '@id': frequency } } : {}),
    ...(dataset.temporal
      ? {
          'dct:temporal': {
            '@type': 'dct:PeriodOfTime',
            'dcat:startDate': dateTime(dataset.temporal.start),
            ...(dataset.temporal.end ? { 'dcat:endDate': dateTime(dataset.temporal.end) } : {}),
          },
        }
      : {}),
    ...(spatial.length ? { 'dct:spatial': spatial } : {}),
    'dcat:landingPage': { '@id': iri },
    'dcat:distribution': distributions,
  };
}

function dataServices(urls: OpenDataUrls, options: { sensorThings: boolean }): JsonLd[] {
  const graphqlPath = urls.catalog.datasets.flatMap((d) => d.distributions).find((d) => d.format.toLowerCase() === 'graphql')?.accessPath;
  const services: JsonLd[] = [];
  if (graphqlPath) {
    services.push({
      '@id': serviceIri(urls, 'graphql'),
      '@type': 'dcat:DataService',
      'dct:title': 'GraphQL API',
      'dcat:endpointURL': { '@id': urls.api(graphqlPath) },
      'dct:conformsTo': { '@id': GRAPHQL_SPEC },
    });
  }
  if (options.sensorThings) {
    services.push({
      '@id': serviceIri(urls, 'sensorthings'),
      '@type': 'dcat:DataService',
      'dct:title': 'OGC SensorThings API (read only): intersections and car parks',
      'dcat:endpointURL': { '@id': urls.sensorThings },
      'dct:conformsTo': { '@id': SENSORTHINGS_SPEC },
    });
  }
  return services;
}

function serviceIri(urls: OpenDataUrls, name: string): string {
  return `${urls.catalogIri}#service-${name}`;
}

function agent(name: string): JsonLd {
  return { '@type': 'foaf:Agent', 'foaf:name': name };
}

function licenseNode(license: DatasetRecord['license']): JsonLd {
  return { '@id': license.url, '@type': 'dct:LicenseDocument', 'rdfs:label': license.name };
}

function dateTime(iso: string): JsonLd {
  return { '@value': new Date(iso).toISOString(), '@type': 'xsd:dateTime' };
}

function mediaTypeNode(mediaType: string): JsonLd {
  return { '@id': `${IANA_MEDIA_TYPE}${mediaType.split(';')[0]!.trim().toLowerCase()}` };
}

/** An EU file-type IRI where the authority table has the format; a labelled node otherwise (GraphQL). */
function formatNode(format: string): JsonLd {
  const code = format.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  return euFileTypes.has(code) ? { '@id': `${EU_FILE_TYPE}${code}` } : { '@type': 'dct:MediaTypeOrExtent', 'rdfs:label': format };
}

/**
 * The EU frequency authority IRI for an update period: ISO-8601 durations under an hour
 * (the counters' PT10S) are "continuously updated"; an IRI given in the catalogue is kept.
 */
export function frequencyIri(period: string | undefined): string | undefined {
  if (!period) return undefined;
  if (/^https?:\/\//.test(period)) return period;
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(period);
  if (!match || period === 'P' || period.endsWith('T')) return undefined;
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  const seconds = Number(d) * 86_400 + Number(h) * 3600 + Number(m) * 60 + Number(s);
  const named: Record<number, string> = { 3600: 'HOURLY', 86_400: 'DAILY', 604_800: 'WEEKLY' };
  if (seconds > 0 && seconds < 3600) return `${EU_FREQUENCY}UPDATE_CONT`;
  return named[seconds] ? `${EU_FREQUENCY}${named[seconds]}` : undefined;
}

/** Where a traffic or parking dataset's counters stand: their bounding box and centroid (WKT, WGS84). */
function location(catalog: OpenDataCatalog, dataset: DatasetRecord): JsonLd | undefined {
  const content = datasetContent(dataset);
  if (!content || content.kind === 'sensors') return undefined;
  const ids = content.kind === 'traffic' ? content.intersectionIds : content.parkingLotIds;
  const things = content.kind === 'traffic' ? catalog.intersections : catalog.parkingLots;
  const points: GeoPoint[] = things.filter((thing) => !ids || ids.includes(thing.id)).map((thing) => thing.location);
  if (points.length === 0) return undefined;
  const lons = points.map((p) => p.lon);
  const lats = points.map((p) => p.lat);
  const [west, east, south, north] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const wkt = (value: string) => ({ '@value': value, '@type': 'gsp:wktLiteral' });
  const centroid = `POINT(${(west + east) / 2} ${(south + north) / 2})`;
  return {
    '@type': 'dct:Location',
    ...(points.length > 1
      ? { 'dcat:bbox': wkt(`POLYGON((${west} ${south},${east} ${south},${east} ${north},${west} ${north},${west} ${south}))`) }
      : {}),
    'dcat:centroid': wkt(centroid),
  };
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'distribution'
  );
}
