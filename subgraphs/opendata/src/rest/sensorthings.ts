import { isInstantInBounds, quoteInput } from '#kit';
import type { GeoPoint, OpenDataCatalog } from '../sources/catalog.ts';
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

  return {
    async get(path, params) {
      const segments = parsePath(path);
      const [first, second, ...rest] = segments;
      if (rest.length) throw unsupported(`the path "${path}" is deeper than this service answers`);
      const requestUrl = `${baseUrl}${path}`;
      if (!first) {
        rejectOptions(params, []);
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
      const key = `${first.name}${first.id === undefined ? '' : '()'}/${second ? `${second.name}${second.id === undefined ? '' : '()'}` : ''}`;
      switch (key) {
        case 'Things/':
          return collection([...things.values()].map(thingEntity), params, requestUrl);
        case 'Things()/':
          return single(params, thingEntity(find(things, 'Things', first.id!)));
        case 'Things()/Datastreams':
          return collection(datastreamsOf(find(things, 'Things', first.id!).datastreamIds), params, requestUrl);
        case 'Things()/Locations':
          return collection([locationEntity(find(things, 'Things', first.id!))], params, requestUrl);
        case 'Locations/':
          return collection([...things.values()].map(locationEntity), params, requestUrl);
        case 'Locations()/':
          return single(params, locationEntity(find(things, 'Locations', first.id!)));
        case 'Locations()/Things':
          return collection([thingEntity(find(things, 'Locations', first.id!))], params, requestUrl);
        case 'Datastreams/':
          return collection([...datastreams.values()].map(datastreamEntity), params, requestUrl);
        case 'Datastreams()/':
          return single(params, datastreamEntity(find(datastreams, 'Datastreams', first.id!)));
        case 'Datastreams()/Thing':
          return single(params, thingEntity(things.get(find(datastreams, 'Datastreams', first.id!).thingId)!));
        case 'Datastreams()/Observations': {
          const stream = find(datastreams, 'Datastreams', first.id!);
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
        }
        case 'Observations/':
          throw unsupported('list Observations through their Datastream: /Datastreams(<id>)/Observations');
        case 'Observations()/':
        case 'Observations()/Datastream': {
          const at = first.id!.lastIndexOf('@');
          const stream = find(datastreams, 'Observations', at > 0 ? first.id!.slice(0, at) : first.id!);
          const time = Number(first.id!.slice(at + 1));
          if (at <= 0 || !Number.isInteger(time) || !isInstantInBounds(time))
            throw new OpenDataError(404, OpenDataErrorCode.NOT_FOUND, `no Observations(${quote(first.id!)})`);
          if (second) return single(params, datastreamEntity(stream));
          const [points = []] = await store.query([stream.id], { from: time, until: time });
          const point = points.find((p) => p.time === time);
          if (!point) throw new OpenDataError(404, OpenDataErrorCode.NOT_FOUND, `no Observations(${quote(first.id!)})`);
          return single(params, observationEntity(stream.id, point.time, point.value));
        }
        default:
          throw new OpenDataError(
            404,
            OpenDataErrorCode.NOT_FOUND,
            `no resource "${path}"; this service has Things, Locations, Datastreams and Observations`,
          );
      }
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
