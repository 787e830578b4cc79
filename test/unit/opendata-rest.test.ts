import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { buildScenario, scenarioOpenData, scenarioRegistry } from '#simulator';
import { nodeTenant, parseSensorId, type GatewayRecord } from '#registry';
import { MemoryTimeSeriesStore, type Reading } from '#telemetry';
import { createOpenDataHandler, type OpenDataHandler } from '../../subgraphs/opendata/src/rest/index.ts';
import { toCsv } from '../../subgraphs/opendata/src/rest/csv.ts';
import type { OpenDataCatalog } from '#opendata-catalog';

/** The handler's clock: every relative time and default range is computed from it. */
const NOW = Date.parse('2026-11-24T12:00:00.000Z');
const at = (hhmmss: string) => Date.parse(`2026-11-24T${hhmmss}.000Z`);
/** The scenario's registry: gateways, their owners and their nodes' tenants (a shared gateway's car parks are the parking operator's). */
const records = new Map(scenarioRegistry(buildScenario('demo')).map((record) => [record.id, record]));
/** A reading as the collector stamps it: its node's tenant's (`tenant` overrides, for readings of an earlier tenant). */
const reading = (sensorId: string, time: number, value: number, tenant?: string): Reading => ({
  sensorId,
  gatewayId: parseSensorId(sensorId)!.gatewayId,
  tenant: tenant ?? nodeTenant(records.get(parseSensorId(sensorId)!.gatewayId)!, parseSensorId(sensorId)!.address),
  quantity: 'VEHICLE_COUNT',
  time,
  value,
});

type Json = Record<string, any>;

/** A bare node:http server that mounts handlers under /opendata/ the way the router does. */
async function startMount(): Promise<{ server: Server; url: string; mount(handler: OpenDataHandler): void }> {
  let handler: OpenDataHandler | undefined;
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const relative = path.startsWith('/opendata/') ? path.slice('/opendata'.length) : undefined;
    const done = relative !== undefined && handler ? handler(req, res, new URL(relative, 'http://mount')) : Promise.resolve(false);
    done.then(
      (handled) => {
        if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not mounted');
      },
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, mount: (h) => (handler = h) };
}

/** RFC 4180: quoted cells may hold commas, doubled quotes and line breaks; lines end with CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else if (c === '\n') throw new Error(`bare LF at ${i}: lines must end with CRLF`);
    else cell += c;
  }
  if (cell || row.length) throw new Error('the last line does not end with CRLF');
  return rows;
}

describe('open data downloads (/opendata/)', () => {
  let mount: Awaited<ReturnType<typeof startMount>>;
  let catalog: OpenDataCatalog;
  let base: string;
  const store = new MemoryTimeSeriesStore({ resolutionSeconds: 10, retentionSeconds: 3 * 86_400 });
  /** The scenario's registry: open data publishes each sensor's readings of its node's current tenant, while that is its publisher. */
  const registry = {
    getMany: async (ids: readonly string[]): Promise<Array<GatewayRecord | undefined>> => ids.map((id) => records.get(id)),
  };

  const get = (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);
  const getJson = async (path: string) => {
    const response = await get(path);
    return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Json };
  };

  beforeAll(async () => {
    mount = await startMount();
    base = `${mount.url}/opendata`;
    catalog = scenarioOpenData(buildScenario('demo'), mount.url);
    const [crossing] = catalog.intersections;
    const [nabrezi, stadion] = catalog.parkingLots;
    await store.write([
      // Traffic: one reading before the range asked for, then three hours of counts.
      reading(crossing!.vehicleSensorId, at('08:50:00'), 100),
      reading(crossing!.vehicleSensorId, at('09:00:00'), 5),
      reading(crossing!.vehicleSensorId, at('09:20:00'), 7),
      reading(crossing!.vehicleSensorId, at('10:00:00'), 3),
      reading(crossing!.vehicleSensorId, at('11:59:50'), 4),
      reading(crossing!.pedestrianSensorId, at('09:30:00'), 2),
      reading(crossing!.pedestrianSensorId, at('11:00:00'), 6),
      // Parking: the mean of a bucket is published, capped at the capacity (120 at Na Nabrezi).
      reading(nabrezi!.sensorId, at('09:00:00'), 50),
      reading(nabrezi!.sensorId, at('09:30:00'), 70),
      reading(nabrezi!.sensorId, at('10:00:00'), 130),
      reading(stadion!.sensorId, at('10:10:00'), 10),
      // Taken while the car park's counter was still the city's: another tenant's series, not published.
      reading(stadion!.sensorId, at('09:10:00'), 190, 'pisek-city'),
      // Indoor environment: a school room's CO2 and a sensor no dataset publishes.
      reading('pisek-gw001.4.2', at('09:00:00'), 400),
      reading('pisek-gw001.4.2', at('09:10:00'), 500),
      reading('austin-gw01.21.2', at('09:00:00'), 999),
    ]);
    mount.mount(createOpenDataHandler({ catalog, store, registry, logger: silentLogger, now: () => NOW }));
  });

  afterAll(async () => {
    await new Promise((resolve) => mount.server.close(resolve));
    await store.close();
  });

  describe('catalog.jsonld (DCAT-AP)', () => {
    it('is JSON-LD with the DCAT vocabularies in its @context, and every term used has a known prefix', async () => {
      const { status, type, body } = await getJson('/catalog.jsonld');
      expect(status).toBe(200);
      expect(type).toBe('application/ld+json');
      expect(body['@context']).toMatchObject({
        dcat: 'http://www.w3.org/ns/dcat#',
        dct: 'http://purl.org/dc/terms/',
        foaf: 'http://xmlns.com/foaf/0.1/',
        vcard: 'http://www.w3.org/2006/vcard/ns#',
        xsd: 'http://www.w3.org/2001/XMLSchema#',
      });
      const prefixes = new Set(Object.keys(body['@context']));
      const unknown: string[] = [];
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) return node.forEach(walk);
        if (typeof node !== 'object' || node === null) return;
        for (const [key, value] of Object.entries(node)) {
          if (key === '@context') continue;
          if (!key.startsWith('@') && !prefixes.has(key.split(':')[0]!)) unknown.push(key);
          if (key === '@type' && !prefixes.has(String(value).split(':')[0]!)) unknown.push(String(value));
          walk(value);
        }
      };
      walk(body);
      expect(unknown).toEqual([]);
    });

    it('is a dcat:Catalog of every dataset with identifier, title, description, themes, licence and distributions', async () => {
      const { body } = await getJson('/catalog.jsonld');
      expect(body['@type']).toBe('dcat:Catalog');
      expect(body['dct:title']).toEqual(expect.any(String));
      expect(body['dct:publisher']).toEqual({ '@type': 'foaf:Agent', 'foaf:name': 'Mesto Pisek' });
      const datasets = body['dcat:dataset'] as Json[];
      expect(datasets.map((d) => d['dct:identifier'])).toEqual(catalog.datasets.map((d) => d.id));
      for (const dataset of datasets) {
        const record = catalog.datasets.find((d) => d.id === dataset['dct:identifier'])!;
        expect(dataset['@type']).toBe('dcat:Dataset');
        expect(dataset['@id']).toBe(`${mount.url}/opendata/datasets/${record.id}`);
        expect(dataset['dct:title']).toBe(record.title);
        expect(dataset['dct:description']).toBe(record.description);
        expect(dataset['dct:license']['@id']).toBe('https://creativecommons.org/licenses/by/4.0/');
        expect(dataset['dct:modified']).toEqual({ '@value': record.modified, '@type': 'xsd:dateTime' });
        expect(dataset['dct:accrualPeriodicity']).toEqual({
          '@id': 'http://publications.europa.eu/resource/authority/frequency/UPDATE_CONT',
        });
        expect(dataset['dcat:theme']).toEqual(
          record.themes.map((t) => ({ '@id': `http://publications.europa.eu/resource/authority/data-theme/${t}` })),
        );
        expect(dataset['dcat:keyword']).toEqual(record.keywords);
        const distributions = dataset['dcat:distribution'] as Json[];
        expect(distributions.length).toBeGreaterThan(0);
        for (const distribution of distributions) {
          expect(distribution['@type']).toBe('dcat:Distribution');
          expect(distribution['dcat:accessURL']['@id']).toMatch(/^http:\/\//);
          expect(distribution['dcat:mediaType']['@id']).toMatch(
            /^http:\/\/www\.iana\.org\/assignments\/media-types\/[a-z]+\/[a-z0-9.+-]+$/,
          );
          expect(distribution['dct:license']['@id']).toBe(record.license.url);
          expect(distribution['dct:format']).toBeDefined();
        }
      }
      const traffic = datasets.find((d) => d['dct:identifier'] === 'pisek-traffic-counts')!;
      expect(traffic['dct:spatial'][0]['dcat:centroid']).toEqual({ '@value': 'POINT(14.1452 49.3094)', '@type': 'gsp:wktLiteral' });
    });

    it('gives traffic and parking CSV and JSON downloads whose URLs resolve with the declared media type', async () => {
      const { body } = await getJson('/catalog.jsonld');
      const downloads = (body['dcat:dataset'] as Json[]).flatMap((dataset) =>
        (dataset['dcat:distribution'] as Json[])
          .filter((d) => d['dcat:downloadURL'])
          .map((d) => ({
            dataset: dataset['dct:identifier'] as string,
            url: d['dcat:downloadURL']['@id'] as string,
            mediaType: d['dcat:mediaType']['@id'] as string,
            format: d['dct:format']['@id'] as string,
          })),
      );
      for (const id of ['pisek-traffic-counts', 'pisek-parking-occupancy']) {
        expect(
          downloads
            .filter((d) => d.dataset === id)
            .map((d) => d.format)
            .sort(),
        ).toEqual([
          'http://publications.europa.eu/resource/authority/file-type/CSV',
          'http://publications.europa.eu/resource/authority/file-type/JSON',
        ]);
      }
      for (const download of downloads) {
        const response = await fetch(download.url);
        expect(response.status, download.url).toBe(200);
        expect(`http://www.iana.org/assignments/media-types/${response.headers.get('content-type')!.split(';')[0]}`).toBe(
          download.mediaType,
        );
        expect((await response.text()).length).toBeGreaterThan(0);
      }
    });

    it('answers each dataset IRI with that dataset', async () => {
      const { body } = await getJson('/catalog.jsonld');
      for (const dataset of body['dcat:dataset'] as Json[]) {
        const response = await fetch(dataset['@id']);
        expect(response.status).toBe(200);
        const one = (await response.json()) as Json;
        expect(one['@context'].dcat).toBe('http://www.w3.org/ns/dcat#');
        expect(one['@id']).toBe(dataset['@id']);
        expect(one['dct:identifier']).toBe(dataset['dct:identifier']);
        expect(one['dcat:inCatalog']).toEqual({ '@id': `${mount.url}/opendata/catalog.jsonld` });
      }
    });
  });

  describe('dataset downloads', () => {
    const trafficRange = '?from=2026-11-24T09:00:00Z&until=2026-11-24T12:00:00Z&every=1h';

    it('CSV of traffic: RFC 4180 with a header and exactly the buckets of the range, summed', async () => {
      const response = await get(`/datasets/pisek-traffic-counts.csv${trafficRange}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(response.headers.get('content-disposition')).toBe(
        'attachment; filename="pisek-traffic-counts_20261124T090000Z_20261124T120000Z.csv"',
      );
      expect(parseCsv(await response.text())).toEqual([
        ['time', 'intersection', 'vehicles', 'pedestrians'],
        ['2026-11-24T09:00:00.000Z', 'kollarova-zizkova', '12', '2'],
        ['2026-11-24T10:00:00.000Z', 'kollarova-zizkova', '3', '0'],
        ['2026-11-24T11:00:00.000Z', 'kollarova-zizkova', '4', '6'],
      ]);
    });

    it('JSON of traffic: the same rows with the range, bucket size and licence', async () => {
      const { status, type, body } = await getJson(`/datasets/pisek-traffic-counts.json${trafficRange}`);
      expect(status).toBe(200);
      expect(type).toBe('application/json; charset=utf-8');
      expect(body).toEqual({
        dataset: 'pisek-traffic-counts',
        title: catalog.datasets[0]!.title,
        license: { name: 'Creative Commons Attribution 4.0', url: 'https://creativecommons.org/licenses/by/4.0/' },
        from: '2026-11-24T09:00:00.000Z',
        until: '2026-11-24T12:00:00.000Z',
        every: '1h',
        columns: ['time', 'intersection', 'vehicles', 'pedestrians'],
        rows: [
          { time: '2026-11-24T09:00:00.000Z', intersection: 'kollarova-zizkova', vehicles: 12, pedestrians: 2 },
          { time: '2026-11-24T10:00:00.000Z', intersection: 'kollarova-zizkova', vehicles: 3, pedestrians: 0 },
          { time: '2026-11-24T11:00:00.000Z', intersection: 'kollarova-zizkova', vehicles: 4, pedestrians: 6 },
        ],
      });
    });

    it('defaults to the last 24 hours in 1-hour buckets and reads relative times from now', async () => {
      const { body } = await getJson('/datasets/pisek-traffic-counts.json');
      expect([body.from, body.until, body.every]).toEqual(['2026-11-23T12:00:00.000Z', '2026-11-24T12:00:00.000Z', '1h']);
      expect(body.rows.map((r: Json) => r.vehicles)).toEqual([100, 12, 3, 4]);
      const lastHour = await getJson('/datasets/pisek-traffic-counts.json?from=-1h&every=10min');
      expect(lastHour.body.from).toBe('2026-11-24T11:00:00.000Z');
      expect(lastHour.body.rows).toEqual([
        { time: '2026-11-24T11:00:00.000Z', intersection: 'kollarova-zizkova', vehicles: 0, pedestrians: 6 },
        { time: '2026-11-24T11:50:00.000Z', intersection: 'kollarova-zizkova', vehicles: 4, pedestrians: 0 },
      ]);
    });

    it('parking: one row per bucket and car park, the mean capped at the capacity, narrowed by lot=', async () => {
      const range = '?from=2026-11-24T09:00:00Z&until=2026-11-24T11:00:00Z&every=1h';
      const csv = parseCsv(await (await get(`/datasets/pisek-parking-occupancy.csv${range}`)).text());
      expect(csv).toEqual([
        ['time', 'lot', 'capacity', 'occupied'],
        ['2026-11-24T09:00:00.000Z', 'p-nabrezi', '120', '60'],
        ['2026-11-24T10:00:00.000Z', 'p-nabrezi', '120', '120'],
        ['2026-11-24T10:00:00.000Z', 'p-zimni-stadion', '200', '10'],
      ]);
      const { body } = await getJson(`/datasets/pisek-parking-occupancy.json${range}&lot=p-zimni-stadion`);
      expect(body.rows).toEqual([{ time: '2026-11-24T10:00:00.000Z', lot: 'p-zimni-stadion', capacity: 200, occupied: 10 }]);
    });

    it("parking is the parking operator's (a shared gateway): a counter assigned away from its publisher publishes nothing", async () => {
      const range = '?from=2026-11-24T09:00:00Z&until=2026-11-24T11:00:00Z&every=1h&lot=p-zimni-stadion';
      const rows = async () => ((await getJson(`/datasets/pisek-parking-occupancy.json${range}`)).body.rows as Json[]) ?? [];
      const catalogue = (await getJson('/datasets/pisek-parking-occupancy')).body;
      expect(catalogue['dct:publisher']).toEqual({ '@type': 'foaf:Agent', 'foaf:name': 'Parkoviste Pisek s.r.o.' });
      expect(await rows()).toEqual([{ time: '2026-11-24T10:00:00.000Z', lot: 'p-zimni-stadion', capacity: 200, occupied: 10 }]);
      // An operator assigns the counter's node to the city: the parking operator published it, the city did not.
      const gateway = records.get('pisek-gw001')!;
      const { tenant: _assigned, ...cityNode } = gateway.nodes[3]!;
      records.set(gateway.id, { ...gateway, nodes: { ...gateway.nodes, 3: cityNode } });
      try {
        expect(await rows()).toEqual([]);
      } finally {
        records.set(gateway.id, gateway);
      }
    });

    it('refuses unknown datasets, bad times, bad durations and too many buckets with a clear JSON error', async () => {
      const cases: Array<[string, number, string, RegExp]> = [
        ['/datasets/no-such-dataset.csv', 404, 'NOT_FOUND', /no dataset "no-such-dataset"/],
        ['/datasets/no-such-dataset.json', 404, 'NOT_FOUND', /no dataset/],
        ['/datasets/pisek-traffic-counts.csv?from=yesterday', 400, 'BAD_TIME_RANGE', /^from: "yesterday" is neither an ISO-8601 instant/],
        ['/datasets/pisek-traffic-counts.csv?until=2026-13-45', 400, 'BAD_TIME_RANGE', /^until: /],
        ['/datasets/pisek-traffic-counts.json?every=fast', 400, 'BAD_TIME_RANGE', /^every: "fast" is not a duration/],
        [
          '/datasets/pisek-traffic-counts.json?from=2026-11-24T10:00:00Z&until=2026-11-24T09:00:00Z',
          400,
          'BAD_TIME_RANGE',
          /must be before until/,
        ],
        ['/datasets/pisek-traffic-counts.csv?from=-2d&every=10s', 400, 'BAD_TIME_RANGE', /17280 buckets .* at most 10000/],
        ['/datasets/pisek-parking-occupancy.csv?lot=p-elsewhere', 400, 'BAD_USER_INPUT', /publishes no lot "p-elsewhere"/],
      ];
      for (const [path, status, code, message] of cases) {
        const response = await getJson(path);
        expect(response.status, path).toBe(status);
        expect(response.type, path).toBe('application/json; charset=utf-8');
        expect(response.body.error.code, path).toBe(code);
        expect(response.body.error.message, path).toMatch(message);
      }
      expect((await get('/datasets/pisek-traffic-counts.csv', { method: 'POST' })).status).toBe(405);
    });

    it('indoor environment: only the series its catalogue entry lists, averaged per bucket, narrowed by sensor=', async () => {
      // What the catalogue says once the indoor dataset lists its series (content.kind = sensors).
      const withSeries: OpenDataCatalog = {
        ...catalog,
        datasets: catalog.datasets.map((d) =>
          d.id === 'indoor-environment'
            ? {
                ...d,
                content: {
                  kind: 'sensors',
                  series: [
                    { sensorId: 'pisek-gw001.4.0', label: 'school room 1 temperature', quantity: 'TEMPERATURE', unit: '°C' },
                    { sensorId: 'pisek-gw001.4.2', label: 'school room 1, CO2', quantity: 'CO2', unit: 'ppm' },
                  ],
                },
              }
            : d,
        ),
      };
      const own = await startMount();
      try {
        own.mount(createOpenDataHandler({ catalog: withSeries, store, registry, logger: silentLogger, now: () => NOW }));
        const csv = parseCsv(
          await (
            await fetch(`${own.url}/opendata/datasets/indoor-environment.csv?from=2026-11-24T08:00:00Z&until=2026-11-24T10:00:00Z`)
          ).text(),
        );
        expect(csv).toEqual([
          ['time', 'sensor', 'quantity', 'value', 'unit'],
          ['2026-11-24T09:00:00.000Z', 'pisek-gw001.4.2', 'CO2', '450', 'ppm'],
        ]);
        const narrowed = (await (
          await fetch(`${own.url}/opendata/datasets/indoor-environment.json?from=-4h&sensor=pisek-gw001.4.0`)
        ).json()) as Json;
        expect(narrowed.series).toEqual([
          { sensor: 'pisek-gw001.4.0', label: 'school room 1 temperature', quantity: 'TEMPERATURE', unit: '°C' },
        ]);
        expect(narrowed.rows).toEqual([]);
        const unpublished = await fetch(`${own.url}/opendata/datasets/indoor-environment.json?sensor=austin-gw01.21.2`);
        expect(unpublished.status).toBe(400);
        expect(((await unpublished.json()) as Json).error.message).toMatch(/publishes no sensor "austin-gw01.21.2"/);
      } finally {
        await new Promise((resolve) => own.server.close(resolve));
      }
    });

    it('writes RFC 4180 quoting for commas, quotes and line breaks', () => {
      expect(
        toCsv(
          ['a', 'b'],
          [
            { a: 'x, y', b: 'say "hi"' },
            { a: 'two\r\nlines', b: null },
          ],
        ),
      ).toBe('a,b\r\n"x, y","say ""hi"""\r\n"two\r\nlines",\r\n');
    });
  });

  describe('SensorThings (read only)', () => {
    const sta = '/sta/v1.1';

    it('lists the intersections and car parks as Things with self links that resolve', async () => {
      const { status, body } = await getJson(`${sta}/Things?$count=true`);
      expect(status).toBe(200);
      expect(body['@iot.count']).toBe(3);
      expect(body.value.map((t: Json) => t['@iot.id'])).toEqual(['kollarova-zizkova', 'p-nabrezi', 'p-zimni-stadion']);
      const thing = body.value[0] as Json;
      expect(thing['@iot.selfLink']).toBe(`${base}${sta}/Things('kollarova-zizkova')`);
      expect(((await (await fetch(thing['@iot.selfLink'])).json()) as Json).name).toBe('Kollarova x Zizkova');
      const streams = (await (await fetch(thing['Datastreams@iot.navigationLink'])).json()) as Json;
      expect(streams.value.map((d: Json) => d['@iot.id'])).toEqual([
        catalog.intersections[0]!.vehicleSensorId,
        catalog.intersections[0]!.pedestrianSensorId,
      ]);
      const locations = (await (await fetch(thing['Locations@iot.navigationLink'])).json()) as Json;
      expect(locations.value[0].location).toEqual({ type: 'Point', coordinates: [14.1452, 49.3094] });
    });

    it("serves a Datastream's Observations from the store, newest first, paged with $top", async () => {
      const id = catalog.intersections[0]!.vehicleSensorId;
      const { status, body } = await getJson(`${sta}/Datastreams('${id}')/Observations?$top=2`);
      expect(status).toBe(200);
      expect(body.value.map((o: Json) => [o.phenomenonTime, o.result])).toEqual([
        ['2026-11-24T11:59:50.000Z', 4],
        ['2026-11-24T10:00:00.000Z', 3],
      ]);
      expect(body['@iot.nextLink']).toContain('%24skip=2');
      const next = (await (await fetch(body['@iot.nextLink'])).json()) as Json;
      expect(next.value.map((o: Json) => o.result)).toEqual([7, 5]);
      const one = (await (await fetch(body.value[0]['@iot.selfLink'])).json()) as Json;
      expect(one.result).toBe(4);
      const filtered = await getJson(
        `${sta}/Datastreams('${id}')/Observations?$filter=${encodeURIComponent('phenomenonTime ge 2026-11-24T09:00:00Z and phenomenonTime lt 2026-11-24T10:00:00Z')}&$orderby=phenomenonTime asc`,
      );
      expect(filtered.body.value.map((o: Json) => o.result)).toEqual([5, 7]);
    });

    it('says what it does not support and what does not exist', async () => {
      expect((await getJson(`${sta}/Things?$expand=Datastreams`)).body.error.message).toMatch(/\$expand is not supported/);
      expect((await getJson(`${sta}/Datastreams('nope')`)).status).toBe(404);
      expect((await get('/elsewhere')).status).toBe(404);
      expect(await (await get('/elsewhere')).text()).toBe('not mounted');
    });
  });
});
