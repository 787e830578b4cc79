import { PublishedSensors } from './published-sensors.ts';

/** WGS84 degrees. */
export interface GeoPoint {
  lat: number;
  lon: number;
}

/** A dataset entry of the catalogue (DCAT-AP terms). */
export interface DatasetRecord {
  id: string;
  /**
   * The platform tenant that publishes it: it may publish only sensors of its own nodes (one
   * gateway serves several tenants). Absent in catalogues written before gateways were shared:
   * each sensor is then published by its gateway's owner.
   */
  tenant?: string;
  title: string;
  description: string;
  themes: string[];
  keywords: string[];
  license: { name: string; url: string };
  publisher: string;
  /** Relative to the public API URL, e.g. `/graphql`. */
  distributions: Array<{ title: string; format: string; mediaType: string; accessPath: string }>;
  modified: string;
  accrualPeriodicity?: string;
  /** What the dataset's CSV and JSON downloads hold; see `datasetContent` when absent. */
  content?: DatasetContent;
  /** The period the data covers (DCAT `dct:temporal`), ISO-8601 instants; open-ended without `end`. */
  temporal?: { start: string; end?: string };
  /** Named places the data is about (DCAT `dct:spatial`), e.g. an RUIAN municipality IRI. */
  spatial?: string[];
}

/**
 * The data behind a dataset's downloads. Traffic and parking read the counters of the
 * catalogue's intersections and car parks (all of them unless ids are given); `sensors`
 * publishes exactly the listed series and nothing else, so a download can never reach a sensor
 * its operator did not publish (one gateway serves several tenants).
 */
export type DatasetContent =
  | { kind: 'traffic'; intersectionIds?: string[] }
  | { kind: 'parking'; parkingLotIds?: string[] }
  | { kind: 'sensors'; series: SeriesRecord[] };

/** One published sensor series of a `sensors` dataset. */
export interface SeriesRecord {
  /** `<gatewayId>.<node>.<index>`, as in the registry. */
  sensorId: string;
  /** What a reader sees, e.g. "school room 1, CO2". */
  label: string;
  /** A `Quantity` of the platform, e.g. CO2. */
  quantity: string;
  /** e.g. ppm, Cel, % */
  unit?: string;
}

export interface IntersectionRecord {
  id: string;
  /** The tenant that publishes its counters (their nodes must be its); absent: their gateway's owner. */
  tenant?: string;
  name: string;
  location: GeoPoint;
  vehicleSensorId: string;
  pedestrianSensorId: string;
}

export interface ParkingLotRecord {
  id: string;
  /** The tenant that publishes its counter (the node must be its); absent: the gateway's owner. */
  tenant?: string;
  name: string;
  capacity: number;
  location: GeoPoint;
  sensorId: string;
}

/** What the open data subgraph publishes: its own catalogue, pointing at sensors of the platform. */
export interface OpenDataCatalog {
  /** Base URL that distributions' paths are relative to. */
  publicUrl: string;
  /** Title and publisher of the catalogue (DCAT `dcat:Catalog`); derived from the datasets when absent. */
  title?: string;
  description?: string;
  publisher?: string;
  datasets: DatasetRecord[];
  intersections: IntersectionRecord[];
  parkingLots: ParkingLotRecord[];
}

/** Checks a catalogue loaded from JSON and says which entry is wrong. */
export function validateCatalog(value: unknown, source: string): OpenDataCatalog {
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  if (typeof value !== 'object' || value === null) fail('not a JSON object');
  const catalog = value as Partial<OpenDataCatalog>;
  if (typeof catalog.publicUrl !== 'string') fail('"publicUrl" must be a string');
  for (const key of ['datasets', 'intersections', 'parkingLots'] as const) {
    if (!Array.isArray(catalog[key])) fail(`"${key}" must be an array`);
    catalog[key]!.forEach((entry, i) => {
      if (typeof entry?.id !== 'string' || !entry.id) fail(`${key}[${i}].id must be a non-empty string`);
      const tenant: unknown = (entry as { tenant?: unknown }).tenant;
      if (tenant !== undefined && (typeof tenant !== 'string' || !tenant)) fail(`${key}[${i}].tenant must be a non-empty string`);
    });
  }
  catalog.datasets!.forEach((dataset, i) => {
    const content: unknown = dataset.content;
    if (content === undefined) return;
    const where = `datasets[${i}].content`;
    if (typeof content !== 'object' || content === null) fail(`${where} must be an object`);
    const { kind } = content as { kind?: unknown };
    if (kind === 'sensors') {
      const series: unknown = (content as { series?: unknown }).series;
      if (!Array.isArray(series)) fail(`${where}.series must be an array`);
      (series as unknown[]).forEach((entry, j) => {
        const record = entry as Partial<SeriesRecord> | null;
        for (const key of ['sensorId', 'label', 'quantity'] as const) {
          if (typeof record?.[key] !== 'string' || !record[key]) fail(`${where}.series[${j}].${key} must be a non-empty string`);
        }
      });
    } else if (kind === 'traffic' || kind === 'parking') {
      const key = kind === 'traffic' ? 'intersectionIds' : 'parkingLotIds';
      const ids: unknown = (content as Record<string, unknown>)[key];
      if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => typeof id === 'string')))
        fail(`${where}.${key} must be an array of strings`);
    } else {
      fail(`${where}.kind must be "traffic", "parking" or "sensors"`);
    }
  });
  const publisherProblem = publisherConflict(catalog as OpenDataCatalog);
  if (publisherProblem) fail(publisherProblem);
  return catalog as OpenDataCatalog;
}

/**
 * What contradicts "a tenant publishes only its own": a traffic or parking dataset of one tenant
 * covering another's crossing or car park, or a sensor published by two tenants.
 */
function publisherConflict(catalog: OpenDataCatalog): string | undefined {
  for (const [i, dataset] of catalog.datasets.entries()) {
    const content = datasetContent(dataset);
    if (!dataset.tenant || !content || content.kind === 'sensors') continue;
    const things =
      content.kind === 'traffic' ? pick(catalog.intersections, content.intersectionIds) : pick(catalog.parkingLots, content.parkingLotIds);
    const foreign = things.find((thing) => thing.tenant !== dataset.tenant);
    if (foreign)
      return `datasets[${i}] ("${dataset.id}") is published by tenant "${dataset.tenant}" but covers ${content.kind === 'traffic' ? 'intersection' : 'car park'} "${foreign.id}" of ${foreign.tenant ? `tenant "${foreign.tenant}"` : 'no tenant'}: give its ${content.kind === 'traffic' ? 'intersectionIds' : 'parkingLotIds'} or its tenant`;
  }
  const publishers = new Map<string, string | undefined>();
  for (const [sensorId, tenant] of publishedSensorEntries(catalog)) {
    if (publishers.has(sensorId) && publishers.get(sensorId) !== tenant)
      return `sensor "${sensorId}" is published by ${describeTenant(publishers.get(sensorId))} and by ${describeTenant(tenant)}: a sensor has one publisher, its node's tenant`;
    publishers.set(sensorId, tenant);
  }
  return undefined;
}

function describeTenant(tenant: string | undefined): string {
  return tenant ? `tenant "${tenant}"` : "its gateway's owner";
}

function pick<T extends { id: string }>(things: readonly T[], ids: readonly string[] | undefined): T[] {
  if (!ids) return [...things];
  const wanted = new Set(ids);
  return things.filter((thing) => wanted.has(thing.id));
}

/**
 * What a dataset's downloads hold: its `content`, or for catalogues written before `content`
 * existed, traffic for a dataset with the keyword "traffic" and parking for one with "parking"
 * (both over the catalogue's own, already public, intersections and car parks). Sensor series
 * are never guessed. Undefined: the dataset has no downloads.
 */
export function datasetContent(dataset: DatasetRecord): DatasetContent | undefined {
  if (dataset.content) return dataset.content;
  const keywords = new Set(dataset.keywords.map((keyword) => keyword.toLowerCase()));
  if (keywords.has('traffic')) return { kind: 'traffic' };
  if (keywords.has('parking')) return { kind: 'parking' };
  return undefined;
}

/** Each published sensor with its publishing tenant (undefined: its gateway's owner), in catalogue order. */
function publishedSensorEntries(catalog: OpenDataCatalog): Array<[string, string | undefined]> {
  return [
    ...catalog.intersections.flatMap((crossing): Array<[string, string | undefined]> => [
      [crossing.vehicleSensorId, crossing.tenant],
      [crossing.pedestrianSensorId, crossing.tenant],
    ]),
    ...catalog.parkingLots.map((lot): [string, string | undefined] => [lot.sensorId, lot.tenant]),
    ...catalog.datasets.flatMap((dataset) =>
      dataset.content?.kind === 'sensors'
        ? dataset.content.series.map((series): [string, string | undefined] => [series.sensorId, dataset.tenant])
        : [],
    ),
  ];
}

/**
 * Every sensor whose readings the catalogue publishes: the crossings' counters, the car parks'
 * sensors and the series of `sensors` datasets, with who publishes each. The telemetry subgraph
 * serves their readings to every caller (anonymous ones too), but only while the sensor's node
 * is its publisher's (`isPublishedNow`); every other sensor stays its tenant's.
 */
export function publishedSensorIds(catalog: OpenDataCatalog): PublishedSensors {
  return new PublishedSensors(publishedSensorEntries(catalog));
}
