import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from 'graphql-ws';
import { MAX_DURATION_SECONDS, MAX_TIMER_DELAY_MS } from '#kit';
import { bucketOf, MemoryTimeSeriesStore } from '#telemetry';
import { BucketStream } from '../../subgraphs/telemetry/src/sources/bucket-stream.ts';
import type { Platform } from '../../platform/platform.ts';
import { tokenFor } from '../support/auth.ts';
import { graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

/**
 * DateTime and Duration inputs have bounds (instants in 1970-2100, durations from 1 s to 1 year):
 * anything else is refused with BAD_USER_INPUT naming the bound, over HTTP, in subscriptions and
 * in the open data downloads (400), and never reaches a store query or a timer.
 */
const OUT_OF_BOUNDS: Array<[args: string, bound: RegExp]> = [
  ['every: "10y"', /longest duration accepted, 1 year/],
  ['every: "400d"', /longest duration accepted, 1 year/],
  ['every: "99999999999999999999y"', /longest duration accepted, 1 year/],
  ['every: "0s"', /longer than zero \(at least 1s\)/],
  ['from: "-300000y"', /the years 1970 to 2100/],
  ['from: "1969-12-31T23:59:59Z"', /the years 1970 to 2100/],
  ['until: "3000-01-01T00:00:00Z"', /the years 1970 to 2100/],
];

const sensor = 'pisek-gw001.4.2';

describe('time bounds through the router', () => {
  let platform: Platform;
  let url: string;
  let token: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform({ backends: { memoryResolutionSeconds: 1 } });
    url = platform.routerUrl;
    token = await tokenFor('pisek-city');
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await platform?.close();
  });

  it.each(OUT_OF_BOUNDS)('Sensor.readings(%s) is BAD_USER_INPUT naming the bound', async (args, bound) => {
    const literal = await graphql(url, `{ sensor(id: "${sensor}") { readings(${args}) { value } } }`, undefined, { token });
    expect(literal.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(bound) });
    const [name, value] = args.split(': ') as [string, string];
    const type = name === 'every' ? 'Duration' : 'DateTime';
    const variable = await graphql(
      url,
      `query ($v: ${type}) { sensor(id: "${sensor}") { readings(${name}: $v) { value } } }`,
      { v: JSON.parse(value) },
      { token },
    );
    expect(variable.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(bound) });
  });

  it.each(OUT_OF_BOUNDS)('Intersection.traffic(%s) is BAD_USER_INPUT naming the bound', async (args, bound) => {
    const { errors } = await graphql(url, `{ intersections { traffic(${args}) { vehicles } } }`, undefined, { token });
    expect(errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(bound) });
  });

  it('ends a readings subscription with from/every out of bounds with BAD_USER_INPUT, and nothing keeps running', async () => {
    const client = wsClient(url, { token });
    clients.push(client);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const query = `subscription ($from: DateTime, $every: Duration) { readings(sensorIds: ["${sensor}"], from: $from, every: $every) { value } }`;
    for (const [args, bound] of OUT_OF_BOUNDS) {
      const [name, value] = args.split(': ') as [string, string];
      if (name === 'until') continue;
      const variables = { from: '-1h', every: '1min', [name]: JSON.parse(value) as string };
      const result = await firstResult(client, query, variables);
      expect(result.completed, args).toBe(true);
      expect(result.errors?.[0], args).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(bound) });
      // Written into the document, the subgraph refuses it while validating: the same error reaches the client.
      const literal = await firstResult(
        client,
        `subscription { readings(sensorIds: ["${sensor}"], from: ${name === 'from' ? value : '"-1h"'}, every: ${name === 'every' ? value : '"1min"'}) { value } }`,
      );
      expect(literal.completed, args).toBe(true);
      expect(literal.errors, args).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(bound) }]);
    }
    // A bucket cursor far in the future would be waited for for centuries: refused too.
    const future = await firstResult(
      client,
      `subscription { readings(sensorIds: ["${sensor}"], from: "-1h", every: "1min", after: "bucket:999999999999999") { value } }`,
    );
    expect(future.completed).toBe(true);
    expect(future.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } });
    // Nothing armed a timer Node had to shorten to 1 ms.
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.off('warning', onWarning);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('serves the longest bucket accepted, 1y, with a timer Node can arm', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const client = wsClient(url, { token });
      clients.push(client);
      const events: unknown[] = [];
      const dispose = client.subscribe(
        { query: `subscription { readings(sensorIds: ["${sensor}"], from: "-1h", every: "1y") { value } }` },
        { next: (event) => events.push(event), error: () => undefined, complete: () => undefined },
      );
      const cpu = process.cpuUsage();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const used = process.cpuUsage(cpu);
      dispose();
      expect(warnings).not.toContain('TimeoutOverflowWarning');
      // The subscription waits for its bucket to close: no busy loop (a 1 ms timer spins a core).
      expect(events.every((event) => !(event as { errors?: unknown }).errors)).toBe(true);
      expect((used.user + used.system) / 1000).toBeLessThan(900);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('answers open data downloads and SensorThings with 400, never 500, to out-of-range times and durations', async () => {
    const base = url.replace('/graphql', '/opendata');
    const cases: Array<[string, RegExp]> = [
      ['/datasets/pisek-traffic-counts.csv?every=10y', /^every: "10y" is longer than the longest duration accepted, 1 year/],
      ['/datasets/pisek-traffic-counts.json?every=0s', /^every: "0s" must be longer than zero/],
      ['/datasets/pisek-traffic-counts.csv?from=-300000y', /^from: "-300000y" is outside the instants accepted, the years 1970 to 2100/],
      ['/datasets/pisek-traffic-counts.csv?until=3000-01-01T00:00:00Z', /^until: .* the years 1970 to 2100/],
      ['/datasets/pisek-traffic-counts.json?from=1969-01-01T00:00:00Z&every=1y', /^from: .* the years 1970 to 2100/],
      ['/datasets/pisek-traffic-counts.json?every=99999999999999999999999999y', /longest duration accepted/],
      [`/datasets/pisek-traffic-counts.json?from=${'9'.repeat(5_000)}`, /^from: "9{40}\.\.\." is neither/],
      [
        "/sta/v1.1/Datastreams('pisek-gw001.1.0')/Observations?$filter=phenomenonTime ge %2B275760-09-13T00:00:00Z",
        /outside the instants accepted, the years 1970 to 2100/,
      ],
      [
        "/sta/v1.1/Datastreams('pisek-gw001.1.0')/Observations?$filter=phenomenonTime eq 3000-01-01T00:00:00Z",
        /outside the instants accepted/,
      ],
    ];
    for (const [path, message] of cases) {
      const response = await fetch(`${base}${path}`);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(response.status, path).toBe(400);
      expect(body.error.message, path).toMatch(message);
      expect(body.error.message.length, path).toBeLessThan(200);
    }
    const observation = await fetch(`${base}/sta/v1.1/Observations('pisek-gw001.1.0@${'9'.repeat(30)}')`);
    expect(observation.status).toBe(404);
  });
});

describe('BucketStream waits', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('for a whole 1-year bucket with no timer armed past 2^31-1 ms, and stops at once when returned', async () => {
    const yearStart = bucketOf(Date.UTC(2030, 5, 1), MAX_DURATION_SECONDS);
    vi.useFakeTimers({ now: yearStart + 86_400_000 });
    const armed: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, delay?: number) => {
      armed.push(delay ?? 0);
      return real(callback, delay);
    }) as typeof setTimeout);
    const stream = new BucketStream({
      store: new MemoryTimeSeriesStore(),
      series: [{ sensorId: 'gw.1.0', tenant: 't' }],
      from: yearStart,
      everySeconds: MAX_DURATION_SECONDS,
      aggregate: 'AVG',
    });
    const pending = stream.next();
    await vi.advanceTimersByTimeAsync(10 * MAX_TIMER_DELAY_MS);
    // 364 days to wait: a chain of timers, none longer than Node allows, and no busy loop.
    expect(armed.length).toBeGreaterThan(1);
    expect(armed.length).toBeLessThan(20);
    expect(Math.max(...armed)).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
    await stream.return();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a start or bucket size that is not a finite instant or a whole number of seconds', () => {
    const store = new MemoryTimeSeriesStore();
    expect(() => new BucketStream({ store, series: [], from: Number.NaN, everySeconds: 60, aggregate: 'AVG' })).toThrow(RangeError);
    expect(() => new BucketStream({ store, series: [], from: 0, everySeconds: 0, aggregate: 'AVG' })).toThrow(RangeError);
  });
});

/** The first result of a subscription (a `next` or an `error`), and whether it completed right after. */
function firstResult(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<{ errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; completed: boolean }> {
  return new Promise((resolve, reject) => {
    let errors: Array<{ message: string; extensions?: Record<string, unknown> }> | undefined;
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`no end within ${timeoutMs} ms: ${query}`));
    }, timeoutMs);
    const finish = (completed: boolean) => {
      clearTimeout(timer);
      resolve({ errors, completed });
    };
    const dispose = client.subscribe(
      { query, variables },
      {
        next: (result) => (errors ??= result.errors as typeof errors),
        error: (error) => {
          if (Array.isArray(error)) {
            errors = error;
            finish(true);
          } else reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => finish(true),
      },
    );
  });
}
