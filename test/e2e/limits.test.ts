import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import WebSocket from 'ws';
import { issueApiKey } from '#auth';
import { silentLogger } from '#log';
import type { Platform } from '../../platform/platform.ts';
import { composeSupergraph } from '#supergraph';
import { startRouter, type RunningRouter } from '../../router/src/gateway.ts';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { maskProductionError } from '../../router/src/plugins/errors.ts';
import { readPersistedDocuments } from '../../router/src/plugins/persistedOperations.ts';
import { RouterRateLimit } from '../../router/src/plugins/rateLimit.ts';
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from '#kit';
import { adminToken, tokenFor } from '../support/auth.ts';
import { graphql, wsClient, type Credentials } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

const partner = issueApiKey('limits-partner', 'Limits partner', 3);
const rateLimit = { tenantPerMinute: 5, operatorPerMinute: 10_000, anonymousPerMinute: 4, trustForwardedFor: true };
const typename = '{ __typename }';

/** A POST to the router with any headers and body, as a browser or a script might send it. */
async function post(
  url: string,
  body: BodyInit,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.startsWith('{') ? JSON.parse(text) : text };
}

/** `{ __typename }` over HTTP, with the response's headers. */
async function typenameOver(url: string, credentials: Credentials = {}, headers: Record<string, string> = {}) {
  const auth = {
    ...(credentials.token ? { authorization: `Bearer ${credentials.token}` } : {}),
    ...(credentials.apiKey ? { 'x-api-key': credentials.apiKey } : {}),
  };
  return post(url, JSON.stringify({ query: typename }), { 'content-type': 'application/json', ...auth, ...headers });
}

/** The result of one operation over graphql-ws: its results, or the errors it ended with. */
function wsOperation(
  client: ReturnType<typeof wsClient>,
  payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> },
) {
  return new Promise<{ results: unknown[]; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>((resolve) => {
    const results: unknown[] = [];
    client.subscribe(payload, {
      next: (result) => results.push(result),
      error: (errors) => resolve({ results, errors: errors as Array<{ message: string }> }),
      complete: () => resolve({ results }),
    });
  });
}

describe("the router's limits and hardening", () => {
  let redis: RedisService;
  let platform: Platform;
  /** A second router sharing the platform router's Redis, in production mode. */
  let production: RunningRouter;
  /** A router that runs persisted operations only. */
  let persistedOnly: RunningRouter;
  let documents: Record<string, string>;
  let overviewId: string;
  let admin: string;

  beforeAll(async () => {
    redis = await startRedis();
    documents = await readPersistedDocuments(new URL('../../clients/typescript/persisted-documents.json', import.meta.url).pathname);
    overviewId = Object.entries(documents).find(([, document]) => document.startsWith('query GatewayOverview'))![0];
    platform = await startTestPlatform({
      auth: { apiKeys: [partner.record] },
      hardening: {
        limits: { maxCost: 300 },
        rateLimit: { ...rateLimit, redisUrl: redis.url },
        persistedOperations: { documents },
        maxBodyBytes: 4096,
        maxMessageBytes: 4096,
      },
    });
    const supergraph = await composeSupergraph(
      Object.fromEntries(Object.entries(platform.subgraphs).map(([name, s]) => [name, s.url])) as Parameters<typeof composeSupergraph>[0],
    );
    const common = { supergraph, port: 0, logger: silentLogger, auth: developmentRouterAuth(platform.subgraphSecret) };
    [production, persistedOnly] = await Promise.all([
      startRouter({ ...common, production: true, rateLimit: { ...rateLimit, redisUrl: redis.url } }),
      startRouter({ ...common, persistedOperations: { documents, only: true } }),
    ]);
    admin = await adminToken();
  }, 60_000);

  afterAll(async () => {
    await persistedOnly?.close();
    await production?.close();
    await platform?.close();
    await redis?.stop();
  });

  describe('cost and depth', () => {
    it('refuses an operation whose estimated cost is over the limit, before any subgraph is asked', async () => {
      // 10 gateways x (1 + 10 sensors x (1 + 10 readings)) = 1110.
      const result = await graphql(platform.routerUrl, '{ gateways { sensors { readings { value } } } }', undefined, { token: admin });
      expect(result.status).toBe(400);
      expect(result.data).toBeUndefined();
      expect(result.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'COST_LIMIT_EXCEEDED', estimatedCost: 1110, maxCost: 300 } }),
      ]);
      expect(result.errors![0]!.message).toMatch(/estimated cost is 1110, more than the limit of 300/);
    });

    it('runs one just under it', async () => {
      // 10 x (1 + 10 x (1 + 1)) = 210.
      const result = await graphql(platform.routerUrl, '{ gateways { id sensors { id latest { value } } } }', undefined, { token: admin });
      expect(result.errors).toBeUndefined();
      expect(result.data?.gateways.length).toBeGreaterThan(0);
    });

    it('refuses a fragment spread twice at every level: too many fields once spread, found in linear time', async () => {
      const bomb = (levels: number) =>
        `{ ...F0 } ${Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F${levels} on Query { __typename }`;
      const started = Date.now();
      // 2^40 fields in about 400 tokens: the Rust planner would expand them all.
      const refused = await graphql(platform.routerUrl, bomb(40), undefined, { token: admin });
      expect(refused.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'QUERY_TOO_LARGE', fields: 2 ** 40, maxFields: 1000 } }),
      ]);
      expect(Date.now() - started).toBeLessThan(2_000);
      // 2^9 = 512 fields: under the limit.
      expect((await graphql(platform.routerUrl, bomb(9), undefined, { token: admin })).data).toEqual({ __typename: 'Query' });
    });
  });

  describe('mutations per operation', () => {
    it('refuses more than 10 mutations in one operation before any runs, and runs 10', async () => {
      const unbonds = (count: number) =>
        `mutation { ${Array.from({ length: count }, (_, i) => `m${i}: unbondNode(input: { gatewayId: "no-such-gateway", address: ${i + 1} }) { userErrors { code } }`).join(' ')} }`;
      const refused = await graphql(platform.routerUrl, unbonds(11), undefined, { token: admin });
      expect(refused.data).toBeUndefined();
      expect(refused.errors).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'QUERY_TOO_LARGE', mutations: 11, maxMutations: 10 }) }),
      ]);
      const ran = await graphql(platform.routerUrl, unbonds(10), undefined, { token: admin });
      expect(ran.errors).toBeUndefined();
      expect(Object.values(ran.data!).map((payload: any) => payload.userErrors[0].code)).toEqual(Array(10).fill('NOT_FOUND'));
    });
  });

  describe('rate limits', () => {
    it('gives each tenant its own budget: HTTP 429 with Retry-After and RATE_LIMITED past it, the other tenant unaffected', async () => {
      const austin = await tokenFor('austin-summit');
      const remaining: string[] = [];
      for (let i = 0; i < 5; i++) {
        const response = await typenameOver(platform.routerUrl, { token: austin });
        expect(response.status).toBe(200);
        expect(response.headers.get('ratelimit-limit')).toBe('5');
        remaining.push(response.headers.get('ratelimit-remaining')!);
      }
      expect(remaining).toEqual(['4', '3', '2', '1', '0']);

      const refused = await typenameOver(platform.routerUrl, { token: austin });
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(12); // one request comes back every 60 s / 5
      expect(refused.body.errors).toEqual([
        {
          message: expect.stringMatching(/tenant austin-summit: at most 5 a minute/),
          extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter },
        },
      ]);
      // SSE subscriptions pass through the same gate.
      const sse = await post(
        platform.routerUrl,
        JSON.stringify({ query: 'subscription { readings(gatewayId: "austin-gw01") { value } }' }),
        { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${austin}` },
      );
      expect(sse.status).toBe(429);

      const pisek = await graphql(platform.routerUrl, '{ gateways { id tenant } }', undefined, { token: await tokenFor('pisek-city') });
      expect(pisek.status).toBe(200);
      expect(pisek.data?.gateways.length).toBeGreaterThan(0);
    });

    it('holds across two routers sharing one Redis', async () => {
      const token = await tokenFor('shared-tenant');
      const statuses: number[] = [];
      for (const url of [
        platform.routerUrl,
        production.url,
        platform.routerUrl,
        production.url,
        platform.routerUrl,
        production.url,
        platform.routerUrl,
      ]) {
        statuses.push((await typenameOver(url, { token })).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    });

    it('limits anonymous callers per address', async () => {
      const from = (address: string) => typenameOver(platform.routerUrl, {}, { 'x-forwarded-for': address });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await from('203.0.113.7')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
      expect((await from('203.0.113.8')).status).toBe(200);
    });

    it('holds an API key to its own quota, on the open data downloads too', async () => {
      const download = () =>
        fetch(`${platform.routerUrl.replace(/\/graphql$/, '')}/opendata/catalog.jsonld`, { headers: { 'x-api-key': partner.key } });
      const first = await download();
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-limit')).toBe('3');
      expect((await typenameOver(platform.routerUrl, { apiKey: partner.key })).status).toBe(200);
      expect((await download()).status).toBe(200);
      const refused = await download();
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe(
        'RATE_LIMITED',
      );
    });

    it('refuses a graphql-ws operation past the limit with RATE_LIMITED, the connection staying open', async () => {
      const client = wsClient(platform.routerUrl, { token: await tokenFor('ws-tenant') });
      try {
        for (let i = 0; i < 5; i++)
          expect(await wsOperation(client, { query: typename })).toEqual({ results: [{ data: { __typename: 'Query' } }] });
        const refused = await wsOperation(client, { query: typename });
        expect(refused.errors).toEqual([
          {
            message: expect.stringMatching(/tenant ws-tenant/),
            extensions: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) },
          },
        ]);
        // The same connection answers the next operation (a closed one would end with a CloseEvent).
        expect((await wsOperation(client, { query: typename })).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
        // Another tenant on its own connection is served.
        const other = wsClient(platform.routerUrl, { token: await tokenFor('austin-summit-ws') });
        expect(await wsOperation(other, { query: typename })).toEqual({ results: [{ data: { __typename: 'Query' } }] });
        await other.dispose();
      } finally {
        await client.dispose();
      }
    });

    it.each<[string, () => RateLimitStore]>([
      ['memory', () => new MemoryRateLimitStore()],
      ['Redis', () => new RedisRateLimitStore({ url: redis.url, prefix: `test:${Date.now()}:` })],
    ])('counts with GCRA in %s: a burst of the limit, then one request per period / limit', async (_name, create) => {
      const store = create();
      try {
        const burst = [await store.take('a', 3, 60_000), await store.take('a', 3, 60_000), await store.take('a', 3, 60_000)];
        expect(burst.map((d) => [d.allowed, d.remaining])).toEqual([
          [true, 2],
          [true, 1],
          [true, 0],
        ]);
        const refused = await store.take('a', 3, 60_000);
        expect(refused.allowed).toBe(false);
        expect(refused.retryAfterMs).toBeGreaterThan(19_000);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(20_000);
        expect((await store.take('b', 3, 60_000)).allowed).toBe(true);
        // 2 a 300 ms: refilled one every 150 ms.
        expect([
          (await store.take('fast', 2, 300)).allowed,
          (await store.take('fast', 2, 300)).allowed,
          (await store.take('fast', 2, 300)).allowed,
        ]).toEqual([true, true, false]);
        await new Promise((resolve) => setTimeout(resolve, 170));
        expect((await store.take('fast', 2, 300)).allowed).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('lets requests through when Redis is unreachable', async () => {
      const limit = new RouterRateLimit({ redisUrl: 'redis://127.0.0.1:1', apiKeyLimit: () => undefined, logger: silentLogger });
      const started = Date.now();
      const request = { headers: {}, socket: { remoteAddress: '127.0.0.1' } } as Parameters<RouterRateLimit['take']>[1];
      expect(await limit.take({ kind: 'anonymous', subject: 'anonymous', tenant: null, scopes: [] }, request)).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(3_000);
      await limit.close();
    });
  });

  describe('persisted operations', () => {
    it('runs a persisted document named by its sha256 hash or its documentId, and refuses an unknown id', async () => {
      const hash = overviewId.replace(/^sha256:/, '');
      const byHash = await post(
        platform.routerUrl,
        JSON.stringify({ variables: { id: 'austin-gw01' }, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
        { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      );
      expect(byHash.body.errors).toBeUndefined();
      expect(byHash.body.data.gateway.id).toBe('austin-gw01');
      const byId = await post(platform.routerUrl, JSON.stringify({ documentId: overviewId, variables: { id: 'austin-gw01' } }), {
        'content-type': 'application/json',
        authorization: `Bearer ${admin}`,
      });
      expect(byId.body.data.gateway.id).toBe('austin-gw01');
      const unknown = await post(platform.routerUrl, JSON.stringify({ documentId: 'sha256:0000' }), {
        'content-type': 'application/json',
        authorization: `Bearer ${admin}`,
      });
      expect(unknown.status).toBe(400);
      expect(unknown.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    });

    it('with persisted operations only, refuses an ad-hoc document and runs a persisted one (HTTP and graphql-ws)', async () => {
      const adHoc = await graphql(persistedOnly.url, '{ gateway(id: "austin-gw01") { id } }', undefined, { token: admin });
      expect(adHoc.status).toBe(400);
      expect(adHoc.errors).toEqual([
        { message: expect.stringMatching(/only persisted operations/), extensions: { code: 'PERSISTED_QUERY_ONLY' } },
      ]);
      const persisted = await post(persistedOnly.url, JSON.stringify({ documentId: overviewId, variables: { id: 'austin-gw01' } }), {
        'content-type': 'application/json',
        authorization: `Bearer ${admin}`,
      });
      expect(persisted.body.data.gateway.id).toBe('austin-gw01');

      const client = wsClient(persistedOnly.url, { token: admin });
      try {
        const refused = await wsOperation(client, { query: typename });
        expect(refused.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
        // graphql-ws requires a query string: an empty one with the id.
        const live = Object.entries(documents).find(([, document]) => document.startsWith('subscription LiveReadings'))![0];
        const results = await new Promise<unknown[]>((resolve, reject) => {
          const got: unknown[] = [];
          const dispose = client.subscribe(
            {
              query: '',
              variables: { gatewayId: 'austin-gw01' },
              extensions: { persistedQuery: { version: 1, sha256Hash: live.replace(/^sha256:/, '') } },
            },
            {
              next: (result) => {
                got.push(result);
                dispose();
                resolve(got);
              },
              error: reject,
              complete: () => resolve(got),
            },
          );
        });
        expect(results).toEqual([
          {
            data: {
              readings: expect.objectContaining({ sensor: expect.objectContaining({ id: expect.stringMatching(/^austin-gw01\./) }) }),
            },
          },
        ]);
      } finally {
        await client.dispose();
      }
    });
  });

  describe('CSRF prevention', () => {
    it('refuses a simple form POST and a text/plain one with 403 CSRF_PREVENTED', async () => {
      const form = await post(platform.routerUrl, new URLSearchParams({ query: typename }).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(form.status).toBe(403);
      expect(form.body.errors[0].extensions.code).toBe('CSRF_PREVENTED');
      const text = await post(platform.routerUrl, JSON.stringify({ query: typename }), { 'content-type': 'text/plain;charset=UTF-8' });
      expect(text.status).toBe(403);
    });

    it('runs the same form POST with a header no page can add without a preflight, JSON POSTs and GET queries', async () => {
      const form = await post(platform.routerUrl, new URLSearchParams({ query: typename }).toString(), {
        'content-type': 'application/x-www-form-urlencoded',
        'x-graphql-csrf': '1',
        authorization: `Bearer ${admin}`,
      });
      expect(form.status).toBe(200);
      expect(form.body).toEqual({ data: { __typename: 'Query' } });
      const get = await fetch(`${platform.routerUrl}?query=${encodeURIComponent(typename)}`, {
        headers: { accept: 'application/json', authorization: `Bearer ${admin}` },
      });
      expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    });
  });

  describe('sizes', () => {
    it('answers a body over the limit with 413 REQUEST_ENTITY_TOO_LARGE, and runs one just under it', async () => {
      const body = (padding: number) => JSON.stringify({ query: `${typename}${' '.repeat(padding)}` });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${admin}` };
      const over = await post(platform.routerUrl, body(4096), headers);
      expect(over.status).toBe(413);
      expect(over.body.errors[0].extensions).toMatchObject({ code: 'REQUEST_ENTITY_TOO_LARGE', maxBytes: 4096 });
      const under = await post(platform.routerUrl, body(4000), headers);
      expect(under.status).toBe(200);
      expect(under.body).toEqual({ data: { __typename: 'Query' } });
      // Chunked, without Content-Length: counted while it is read.
      const chunked = (text: string) =>
        new ReadableStream({ start: (controller) => (controller.enqueue(new TextEncoder().encode(text)), controller.close()) });
      const overChunked = await post(platform.routerUrl, chunked(body(5000)), headers);
      expect(overChunked.status).toBe(413);
      expect(overChunked.body.errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
      expect((await post(platform.routerUrl, chunked(body(100)), headers)).body).toEqual({ data: { __typename: 'Query' } });
    });

    it('closes a graphql-ws connection with 1009 on a message over the limit, and serves one just under it', async () => {
      const socket = new WebSocket(platform.routerUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const messages: Array<{ type: string; id?: string }> = [];
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      await new Promise((resolve) => socket.on('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${admin}` } }));
      await expect.poll(() => messages.map((m) => m.type)).toContain('connection_ack');
      const subscribe = (id: string, padding: number) =>
        JSON.stringify({ id, type: 'subscribe', payload: { query: `${typename}${' '.repeat(padding)}` } });
      expect(Buffer.byteLength(subscribe('a', 4000))).toBeLessThan(4096);
      socket.send(subscribe('a', 4000));
      await expect.poll(() => messages.filter((m) => m.id === 'a').map((m) => m.type)).toEqual(['next', 'complete']);
      socket.send(subscribe('b', 4100));
      expect(await closed).toBe(1009);
    });
  });

  describe('production mode', () => {
    it('refuses introspection with INTROSPECTION_DISABLED and serves no GraphiQL, while development keeps both', async () => {
      const introspection = '{ __schema { queryType { name } } }';
      const refused = await graphql(production.url, introspection, undefined, { token: admin });
      expect(refused.errors).toEqual([expect.objectContaining({ extensions: { code: 'INTROSPECTION_DISABLED' } })]);
      expect(refused.data).toBeUndefined();
      expect((await graphql(production.url, typename, undefined, { token: admin })).data).toEqual({ __typename: 'Query' });
      expect((await graphql(platform.routerUrl, introspection, undefined, { token: admin })).data).toEqual({
        __schema: { queryType: { name: 'Query' } },
      });

      const page = (url: string) => fetch(url, { headers: { accept: 'text/html', authorization: `Bearer ${admin}` } });
      expect(await (await page(platform.routerUrl)).text()).toContain('GraphiQL');
      expect(await (await page(production.url)).text()).not.toContain('GraphiQL');
    });

    it('masks unexpected errors without their messages, and strips what a subgraph exposed', () => {
      const crash = maskProductionError(new Error('password=hunter2'), 'Unexpected error.');
      expect(JSON.stringify(crash)).not.toContain('hunter2');
      expect(crash.message).toBe('Unexpected error.');
      // A subgraph's error as the Rust planner hands it over, from a subgraph that exposes internals.
      const fromSubgraph = maskProductionError(
        { message: 'Graphite did not answer', extensions: { code: 'UPSTREAM_ERROR', originalMessage: 'ECONNREFUSED 10.0.0.7:2003' } },
        'Unexpected error.',
      );
      expect((fromSubgraph as GraphQLError).extensions).toEqual({ code: 'UPSTREAM_ERROR' });
      expect(fromSubgraph.message).toBe('Graphite did not answer');
    });
  });
});
