import { isInstantInBounds, quoteInput, RouteTable } from '#kit';
import type { GeoPoint, OpenDataCatalog } from '#opendata-catalog';
import type { PublishedSeries } from '../sources/published-series.ts';
import { OpenDataError, OpenDataErrorCode } from './http.ts';

/**
 * A read-only view of the catalogue's counters as OGC SensorThings API 1.1 (data model and
 * the `$top`, `$skip`, `$count`, `$orderby`, `$filter` on `phenomenonTime` query options):
 * intersections and car parks are Things with one Location each, their counters are
 * Datastreams (id = the sensor id), and readings from the time-series store are Observations
 * (id = `<sensor id>@<epoch ms>`). Anything else the standard allows (`$expand`, `$select`,
 * other filters, writes) is answered with a 400 that says so rather than ignored.
 */

const DEFAULT_TOP = 100;
const MAX_TOP = 1000;
/** Observations are read from the last 24 hours unless `$filter` names a range... */
const DEFAULT_OBSERVATION_WINDOW_MS = 24 * 3600_000;
/** ...of at most 31 days (raw points, one per 10 s). */
const MAX_OBSERVATION_WINDOW_MS = 31 * 24 * 3600_000;
const COUNT_OBSERVATION = 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation';

type Entity = Record<string, unknown>;

interface ThingDef {
  id: string;
  name: string;
  description: string;
  location: GeoPoint;
  properties: Record<string, unknown>;
  datastreamIds: string[];
}

interface DatastreamDef {
  id: string;
  thingId: string;
  name: string;
  description: string;
  quantity: string;
  unit: { name: string; symbol: string; definition: string };
}

export interface SensorThingsView {
  /** Answers `path` (after `/sta/v1.1`) with an entity or a collection; throws OpenDataError. */
  get(path: string, params: URLSearchParams): Promise<Entity>;
}

const countUnit = (name: string) => ({ name, symbol: name, definition: 'http://qudt.org/vocab/unit/NUM' });

/** Builds the view over `catalog`; throws when two Things of the catalogue share an id. */
export function createSensorThingsView(options: {
  catalog: OpenDataCatalog;
  store: PublishedSeries;
  baseUrl: string;
  now: () => number;
}): SensorThingsView {
  const { catalog, store, baseUrl, now } = options;
  const things = new Map<string, ThingDef>();
  const datastreams = new Map<string, DatastreamDef>();
  const addThing = (thing: ThingDef, streams: DatastreamDef[]) => {
    if (things.has(thing.id)) throw new Error(`open data catalogue: an intersection and a parking lot share the id "${thing.id}"`);
    things.set(thing.id, thing);
    for (const stream of streams) datastreams.set(stream.id, stream);
  };
  for (const crossing of catalog.intersections) {
    addThing(
      {
        id: crossing.id,
        name: crossing.name,
        description: `Traffic counters at ${crossing.name}`,
        location: crossing.location,
        properties: { kind: 'intersection' },
        datastreamIds: [crossing.vehicleSensorId, crossing.pedestrianSensorId],
      },
      [
        {
          id: crossing.vehicleSensorId,
          thingId: crossing.id,
          name: `${crossing.name}: vehicles`,
          description: 'Vehicles counted since the previous observation',
          quantity: 'VEHICLE_COUNT',
          unit: countUnit('vehicles'),
        },
        {
          id: crossing.pedestrianSensorId,
          thingId: crossing.id,
          name: `${crossing.name}: pedestrians`,
          description: 'Pedestrians counted since the previous observation',
          quantity: 'PEDESTRIAN_COUNT',
          unit: countUnit('pedestrians'),
        },
      ],
    );
  }
  for (const lot of catalog.parkingLots) {
    addThing(
      {
        id: lot.id,
        name: lot.name,
        description: `Car park with ${lot.capacity} spaces`,
        location: lot.location,
        properties: { kind: 'parkingLot', capacity: lot.capacity },
        datastreamIds: [lot.sensorId],
      },
      [
        {
          id: lot.sensorId,
          thingId: lot.id,
          name: `${lot.name}: occupied spaces`,
          description: 'Cars parked',
          quantity: 'PARKING_OCCUPANCY',
          unit: countUnit('cars'),
        },
      ],
    );
  }

  const link = (set: string, id: string) => `${baseUrl}/${set}(${quote(id)})`;
  const thingEntity = (t: ThingDef): Entity => ({
    '@iot.id': t.id,
    '@iot.selfLink': link('Things', t.id),
    name: t.name,
    description: t.description,
    properties: t.properties,
    'Locations@iot.navigationLink': `${link('Things', t.id)}/Locations`,
    'Datastreams@iot.navigationLink': `${link('Things', t.id)}/Datastreams`,
  });
  const locationEntity = (t: ThingDef): Entity => ({
    '@iot.id': t.id,
    '@iot.selfLink': link('Locations', t.id),
    name: t.name,
    description: `Location of ${t.name}`,
    encodingType: 'application/geo+json',
    location: { type: 'Point', coordinates: [t.location.lon, t.location.lat] },
    'Things@iot.navigationLink': `${link('Locations', t.id)}/Things`,
  });
  const datastreamEntity = (d: DatastreamDef): Entity => ({
    '@iot.id': d.id,
    '@iot.selfLink': link('Datastreams', d.id),
    name: d.name,
    description: d.description,
    observationType: COUNT_OBSERVATION,
    unitOfMeasurement: d.unit,
    properties: { quantity: d.quantity },
    'Thing@iot.navigationLink': `${link('Datastreams', d.id)}/Thing`,
    'Observations@iot.navigationLink': `${link('Datastreams', d.id)}/Observations`,
  });
  const observationEntity = (datastreamId: string, time: number, value: number): Entity => {
    const id = `${datastreamId}@${time}`;
    const iso = new Date(time).toISOString();
    return {
      '@iot.id': id,
      '@iot.selfLink': link('Observations', id),
      phenomenonTime: iso,
      resultTime: iso,
      result: value,
      'Datastream@iot.navigationLink': `${link('Observations', id)}/Datastream`,
    };
  };

  const find = <T>(map: Map<string, T>, set: string, id: string): T => {
    const found = map.get(id);
    if (!found) throw new OpenDataError(404, OpenDataErrorCode.NOT_FOUND, `no ${set}(${quote(id)})`);
    return found;
  };
  const datastreamsOf = (ids: readonly string[]) => ids.map((id) => datastreamEntity(datastreams.get(id)!));

  /** An observation's id, `<datastream id>@<epoch ms>`, read; 404 when it cannot name one. */
  const observationKey = (id: string): { stream: DatastreamDef; time: number } => {
    const at = id.lastIndexOf('@');
    const stream = find(datastreams, 'Observations', at > 0 ? id.slice(0, at) : id);
    const time = Number(id.slice(at + 1));
    if (at <= 0 || !Number.isInteger(time) || !isInstantInBounds(time))
      throw new OpenDataError(404, OpenDataErrorCode.NOT_FOUND, `no Observations(${quote(id)})`);
    return { stream, time };
  };

  // Every resource path the service answers, keys as `({id})`; an empty key is a key (`Things('')`).
  const routes = new RouteTable<StaRequest, Entity | Promise<Entity>>({ emptyParams: true })
    .on('GET', '/', ({ params }) => single(params, serviceRoot(baseUrl)))
    .on('GET', '/Things', ({ params, requestUrl }) => collection([...things.values()].map(thingEntity), params, requestUrl))
    .on('GET', '/Things({id})', ({ params }, { id }) => single(params, thingEntity(find(things, 'Things', id))))
    .on('GET', '/Things({id})/Datastreams', ({ params, requestUrl }, { id }) =>
      collection(datastreamsOf(find(things, 'Things', id).datastreamIds), params, requestUrl),
    )
    .on('GET', '/Things({id})/Locations', ({ params, requestUrl }, { id }) =>
      collection([locationEntity(find(things, 'Things', id))], params, requestUrl),
    )
    .on('GET', '/Locations', ({ params, requestUrl }) => collection([...things.values()].map(locationEntity), params, requestUrl))
    .on('GET', '/Locations({id})', ({ params }, { id }) => single(params, locationEntity(find(things, 'Locations', id))))
    .on('GET', '/Locations({id})/Things', ({ params, requestUrl }, { id }) =>
      collection([thingEntity(find(things, 'Locations', id))], params, requestUrl),
    )
    .on('GET', '/Datastreams', ({ params, requestUrl }) => collection([...datastreams.values()].map(datastreamEntity), params, requestUrl))
    .on('GET', '/Datastreams({id})', ({ params }, { id }) => single(params, datastreamEntity(find(datastreams, 'Datastreams', id))))
    .on('GET', '/Datastreams({id})/Thing', ({ params }, { id }) =>
      single(params, thingEntity(things.get(find(datastreams, 'Datastreams', id).thingId)!)),
    )
    .on('GET', '/Datastreams({id})/Observations', async ({ params, requestUrl }, { id }) => {
      const stream = find(datastreams, 'Datastreams', id);
      rejectOptions(params, ['$top', '$skip', '$count', '$orderby', '$filter']);
      const window = observationWindow(params.get('$filter'), now());
      const order = orderOf(params.get('$orderby'));
      const [points = []] = window ? await store.query([stream.id], window) : [];
      const sorted = order === 'asc' ? points : [...points].reverse();
      return page(
        sorted.map((p) => observationEntity(stream.id, p.time, p.value)),
        params,
        requestUrl,
      );
    })
    .on('GET', '/Observations', () => {
      throw unsupported('list Observations through their Datastream: /Datastreams(<id>)/Observations');
    })
    .on('GET', '/Observations({id})', async ({ params }, { id }) => {
      const { stream, time } = observationKey(id);
      const [points = []] = await store.query([stream.id], { from: time, until: time });
      const point = points.find((p) => p.time === time);
      if (!point) throw new OpenDataError(404, OpenDataErrorCode.NOT_FOUND, `no Observations(${quote(id)})`);
      return single(params, observationEntity(stream.id, point.time, point.value));
    })
    .on('GET', '/Observations({id})/Datastream', ({ params }, { id }) => single(params, datastreamEntity(observationKey(id).stream)));

  return {
    async get(path, params) {
      const segments = parsePath(path);
      if (segments.length > 2) throw unsupported(`the path "${path}" is deeper than this service answers`);
      // The root is `/`; the path goes split, as a decoded key may hold a `/` (`Things(a/b)` is one segment).
      const parts = segments.length ? segments.map(({ name, id }) => (id === undefined ? name : `${name}(${id})`)) : [''];
      const route = routes.match('GET', ['', ...parts]);
      if (!route)
        throw new OpenDataError(
          404,
          OpenDataErrorCode.NOT_FOUND,
          `no resource "${path}"; this service has Things, Locations, Datastreams and Observations`,
        );
      return route.run({ params, requestUrl: `${baseUrl}${path}` });
    },
  };
}

/** What a SensorThings route gets: the query options and the URL asked for (for `@iot.nextLink`). */
interface StaRequest {
  params: URLSearchParams;
  requestUrl: string;
}

/** The service root document: the entity sets and the conformance classes. */
function serviceRoot(baseUrl: string): Entity {
  return {
    value: ['Things', 'Locations', 'Datastreams', 'Observations'].map((name) => ({ name, url: `${baseUrl}/${name}` })),
    serverSettings: {
      conformance: [
        'http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel',
        'http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities',
        'http://www.opengis.net/spec/iot_sensing/1.1/req/request-data',
      ],
    },
  };
}

/** `Things('a')/Datastreams` -> [{ name: 'Things', id: 'a' }, { name: 'Datastreams' }] */
function parsePath(path: string): Array<{ name: string; id?: string }> {
  const parts = path.split('/').filter(Boolean);
  return parts.map((part) => {
    let text: string;
    try {
      text = decodeURIComponent(part);
    } catch {
      throw new OpenDataError(400, OpenDataErrorCode.BAD_USER_INPUT, `"${part}" is not valid percent-encoding`);
    }
    const match = /^([A-Za-z]+)(?:\((?:'((?:[^']|'')*)'|([^()']*))\))?$/.exec(text);
    if (!match)
      throw new OpenDataError(
        400,
        OpenDataErrorCode.BAD_USER_INPUT,
        `"${part}" is not a SensorThings path segment like Things or Things('id')`,
      );
    const id = match[2] !== undefined ? match[2].replaceAll("''", "'") : match[3];
    return id === undefined ? { name: match[1]! } : { name: match[1]!, id };
  });
}

function quote(id: string): string {
  return `'${id.replaceAll("'", "''")}'`;
}

function collection(entities: Entity[], params: URLSearchParams, requestUrl: string): Entity {
  rejectOptions(params, ['$top', '$skip', '$count']);
  return page(entities, params, requestUrl);
}

function single(params: URLSearchParams, entity: Entity): Entity {
  rejectOptions(params, []);
  return entity;
}

/** `$top`/`$skip` paging with `@iot.nextLink`, and `@iot.count` when `$count=true`. */
function page(entities: Entity[], params: URLSearchParams, requestUrl: string): Entity {
  const top = integerOption(params, '$top', DEFAULT_TOP, MAX_TOP);
  const skip = integerOption(params, '$skip', 0, Number.MAX_SAFE_INTEGER);
  const count = params.get('$count');
  if (count !== null && count !== 'true' && count !== 'false') throw unsupported(`$count must be true or false, not ${quoteInput(count)}`);
  const value = entities.slice(skip, skip + top);
  let nextLink: string | undefined;
  if (skip + top < entities.length) {
    const next = new URLSearchParams(params);
    next.set('$top', String(top));
    next.set('$skip', String(skip + top));
    nextLink = `${requestUrl}?${next.toString()}`;
  }
  return { ...(count === 'true' ? { '@iot.count': entities.length } : {}), ...(nextLink ? { '@iot.nextLink': nextLink } : {}), value };
}

function integerOption(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const text = params.get(name);
  if (text === null) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max) throw unsupported(`${name} must be an integer from 0 to ${max}, not ${quoteInput(text)}`);
  return Number(text);
}

function rejectOptions(params: URLSearchParams, allowed: readonly string[]): void {
  for (const name of params.keys()) {
    if (name.startsWith('$') && !allowed.includes(name))
      throw unsupported(`the query option ${name} is not supported here${allowed.length ? `; use ${allowed.join(', ')}` : ''}`);
  }
}

function orderOf(orderby: string | null): 'asc' | 'desc' {
  if (orderby === null) return 'desc';
  const match = /^\s*phenomenonTime(?:\s+(asc|desc))?\s*$/i.exec(orderby);
  if (!match) throw unsupported(`$orderby supports only "phenomenonTime asc" or "phenomenonTime desc", not ${quoteInput(orderby)}`);
  return (match[1]?.toLowerCase() as 'asc' | 'desc' | undefined) ?? 'asc';
}

/** The window of `$filter=phenomenonTime ge 2026-01-01T00:00:00Z and phenomenonTime lt ...`. */
function observationWindow(filter: string | null, now: number): { from: number; until: number } | undefined {
  let from: number | undefined;
  let until: number | undefined;
  if (filter !== null) {
    for (const clause of filter.trim().split(/\s+and\s+/i)) {
      const match = /^phenomenonTime\s+(ge|gt|le|lt|eq)\s+'?([0-9T:.+\-Z]+)'?$/i.exec(clause.trim());
      const time = match ? Date.parse(match[2]!) : Number.NaN;
      if (!match || Number.isNaN(time))
        throw unsupported(`$filter supports only "phenomenonTime ge|gt|le|lt|eq <ISO-8601>" joined by "and", not ${quoteInput(clause)}`);
      if (!isInstantInBounds(time))
        throw unsupported(`$filter: ${quoteInput(match[2]!)} is outside the instants accepted, the years 1970 to 2100`);
      const op = match[1]!.toLowerCase();
      if (op === 'ge' || op === 'eq') from = Math.max(from ?? -Infinity, time);
      if (op === 'gt') from = Math.max(from ?? -Infinity, time + 1);
      if (op === 'le' || op === 'eq') until = Math.min(until ?? Infinity, time);
      if (op === 'lt') until = Math.min(until ?? Infinity, time - 1);
    }
  }
  until ??= now;
  from ??= until - DEFAULT_OBSERVATION_WINDOW_MS;
  if (until - from > MAX_OBSERVATION_WINDOW_MS) throw unsupported('$filter spans more than 31 days of observations; narrow it');
  return from <= until ? { from, until } : undefined;
}

function unsupported(message: string): OpenDataError {
  return new OpenDataError(400, OpenDataErrorCode.BAD_USER_INPUT, message);
}
