import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { DEVELOPMENT_SECRET, mintToken, Scope, signConnection, type Caller } from '#auth';
import { maskError, quoteInput } from '#kit';
import { silentLogger } from '#log';
import type { Platform } from '../../platform/platform.ts';
import { composeSupergraph } from '#supergraph';
import { startRouter, type RunningRouter } from '../../router/src/gateway.ts';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { adminToken, subgraphRequest, tokenFor } from '../support/auth.ts';
import { eventually, graphql, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { envConfig } from '#kit';
import { dashboardHandler, dashboardOptionsFromEnv } from '../../dashboard/handler.ts';

/** A subscription document of about 1 MB: valid GraphQL, far over every limit. */
/** About 200 KB: over the document limit (64 KiB), under the body and message limits (256 KiB). */
const hugeSubscription = `subscription { readings(gatewayId: "austin-gw01") { value ${' __typename'.repeat(18_000)} } }`;
/** About 1 MB: over the body and message limits, refused from its length alone. */
const megabyteSubscription = `subscription { readings(gatewayId: "austin-gw01") { value ${' __typename'.repeat(91_000)} } }`;
const subscription = 'subscription { readings(gatewayId: "austin-gw01") { value } }';

/** Any request to the router, its status and body (JSON when it is). */
async function send(url: string, init: RequestInit): Promise<{ status: number; text: string; body: any }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, text, body: text.startsWith('{') ? JSON.parse(text) : undefined };
}

/** The errors of one graphql-ws operation, or its results. */
function wsOperation(client: ReturnType<typeof wsClient>, query: string) {
  return new Promise<{ results: unknown[]; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>((resolve) => {
    const results: unknown[] = [];
    const dispose = client.subscribe(
      { query },
      {
        next: (result) => {
          results.push(result);
          // A subscription answers for ever: its first event is enough.
          if (query.startsWith('subscription')) {
            dispose();
            resolve({ results });
          }
        },
        error: (errors) => resolve({ results, errors: errors as Array<{ message: string }> }),
        complete: () => resolve({ results }),
      },
    );
  });
}

describe('hostile input at the router', () => {
  let platform: Platform;
  /** The platform's subgraphs behind a production router, the opendata subgraph unreachable. */
  let production: RunningRouter;
  let url: string;
  let token: string;

  beforeAll(async () => {
    platform = await startTestPlatform({
      hardening: { rateLimit: { tenantPerMinute: 100_000, operatorPerMinute: 100_000, anonymousPerMinute: 5, trustForwardedFor: true } },
    });
    url = platform.routerUrl;
    token = await tokenFor('austin-summit');
    const urls = Object.fromEntries(Object.entries(platform.subgraphs).map(([name, s]) => [name, s.url])) as Parameters<
      typeof composeSupergraph
    >[0];
    const supergraph = (await composeSupergraph(urls)).replace(platform.subgraphs.opendata.url, 'http://127.0.0.1:9/graphql');
    production = await startRouter({
      supergraph,
      port: 0,
      logger: silentLogger,
      auth: developmentRouterAuth(platform.subgraphSecret),
      production: true,
    });
  }, 60_000);

  afterAll(async () => {
    await production?.close();
    await platform?.close();
  });

  /** The router still answers a small query at once. */
  async function healthy(): Promise<void> {
    const result = await graphql(url, '{ gateways { id } }', undefined, { token });
    expect(result.errors).toBeUndefined();
    expect(result.data?.gateways.length).toBeGreaterThan(0);
  }

  describe('documents over the document limit are refused before any parsing', () => {
    const tooLarge = {
      message: expect.stringMatching(/larger than 65536 bytes/),
      extensions: { code: 'QUERY_TOO_LARGE', maxDocumentBytes: 65536 },
    };
    const headers = { authorization: '', 'content-type': 'application/json' };
    beforeAll(() => {
      headers.authorization = `Bearer ${token}`;
      expect(hugeSubscription.length).toBeGreaterThan(190_000);
      expect(hugeSubscription.length).toBeLessThan(256 * 1024);
    });

    it('over HTTP POST, as a query and as a subscription', async () => {
      for (const query of [hugeSubscription, hugeSubscription.replace('subscription', 'query')]) {
        const refused = await send(url, {
          method: 'POST',
          headers: { ...headers, accept: 'application/json' },
          body: JSON.stringify({ query }),
        });
        expect(refused.status).toBe(400);
        expect(refused.body.errors).toEqual([tooLarge]);
      }
      await healthy();
    });

    it('over every form of server-sent events: POST JSON, POST application/graphql, POST form', async () => {
      const sse = { ...headers, accept: 'text/event-stream' };
      const forms: RequestInit[] = [
        { method: 'POST', headers: sse, body: JSON.stringify({ query: hugeSubscription }) },
        { method: 'POST', headers: { ...sse, 'content-type': 'application/graphql' }, body: hugeSubscription },
        {
          method: 'POST',
          headers: { ...sse, 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-csrf': '1' },
          body: new URLSearchParams({ query: hugeSubscription }).toString(),
        },
      ];
      for (const form of forms) {
        const refused = await send(url, form);
        expect(refused.status).toBe(400);
        expect(refused.body.errors).toEqual([tooLarge]);
      }
      await healthy();
    });

    it('over GET ?query= (with or without text/event-stream): the URL alone is over what the server reads', async () => {
      for (const accept of ['application/json', 'text/event-stream']) {
        const refused = await send(`${url}?query=${encodeURIComponent(hugeSubscription)}`, {
          headers: { authorization: headers.authorization, accept },
        });
        expect(refused.status).toBe(431);
      }
      // Under the URL limit but over the tokens: a syntax error, as before.
      const manyTokens = `subscription { readings(gatewayId: "austin-gw01") { value ${'a '.repeat(6_000)} } }`;
      const refused = await send(`${url}?${new URLSearchParams({ query: manyTokens })}`, {
        headers: { authorization: headers.authorization, accept: 'text/event-stream' },
      });
      expect(refused.text).toMatch(/Document contains more tha[nt] 5000 tokens/);
      await healthy();
    });

    it('over graphql-ws, the connection staying open', async () => {
      const client = wsClient(url, { token });
      try {
        const refused = await wsOperation(client, hugeSubscription);
        expect(refused.errors).toEqual([tooLarge]);
        expect((await wsOperation(client, '{ __typename }')).results).toEqual([{ data: { __typename: 'Query' } }]);
      } finally {
        await client.dispose();
      }
    });

    it('1 MB bodies and messages by their length alone: 413 over HTTP and SSE, 1009 over graphql-ws', async () => {
      expect(megabyteSubscription.length).toBeGreaterThan(1_000_000);
      for (const accept of ['application/json', 'text/event-stream']) {
        const refused = await send(url, {
          method: 'POST',
          headers: { ...headers, accept },
          body: JSON.stringify({ query: megabyteSubscription }),
        });
        expect(refused.status).toBe(413);
        expect(refused.body.errors).toMatchObject([{ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }]);
      }
      const socket = new WebSocket(url.replace('http', 'ws'), 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: headers.authorization } }));
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: megabyteSubscription } }));
      expect(await closed).toBe(1009);
      await healthy();
    });

    it('on the production router too', async () => {
      const refused = await send(production.url, {
        method: 'POST',
        headers: { ...headers, accept: 'text/event-stream' },
        body: JSON.stringify({ query: hugeSubscription }),
      });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([tooLarge]);
    });
  });

  describe('every form of server-sent events takes the same path', () => {
    /** Opens a stream with a token that expires in 2 s; its whole text once the router ends it. */
    async function streamUntilExpiry(form: (token: string) => [string, RequestInit]): Promise<string> {
      const shortLived = await mintToken({
        tenant: 'austin-summit',
        scopes: [Scope.TELEMETRY_READ],
        secret: DEVELOPMENT_SECRET,
        expiresIn: Math.floor(Date.now() / 1000) + 2,
      });
      const [target, init] = form(shortLived);
      const opened = Date.now();
      const response = await fetch(target, init);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(Date.now() - opened).toBeLessThan(5_000);
      return text;
    }

    it('GET ?query= with text/event-stream ends when the token expires', async () => {
      const text = await streamUntilExpiry((t) => [
        `${url}?query=${encodeURIComponent(subscription)}`,
        { headers: { accept: 'text/event-stream', authorization: `Bearer ${t}` } },
      ]);
      expect(text).toMatch(/"value":/);
      expect(text).toMatch(/the token has expired.*UNAUTHENTICATED/);
      expect(text.trimEnd()).toMatch(/event: complete\ndata:$/);
    });

    it('POST application/graphql ends when the token expires', async () => {
      const text = await streamUntilExpiry((t) => [
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/graphql', accept: 'text/event-stream', authorization: `Bearer ${t}` },
          body: subscription,
        },
      ]);
      expect(text).toMatch(/"value":/);
      expect(text).toMatch(/the token has expired.*UNAUTHENTICATED/);
    });

    it('shares a GET subscription with a POST one of the same operation', async () => {
      const before = platform.router.subscriptions.fanout.stats();
      const controller = new AbortController();
      const open = (init: RequestInit, target = url) => fetch(target, { ...init, signal: controller.signal });
      const auth = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
      const streams = await Promise.all([
        open({ method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ query: subscription }) }),
        open({ headers: auth }, `${url}?query=${encodeURIComponent(subscription)}`),
        open({ method: 'POST', headers: { ...auth, 'content-type': 'application/graphql' }, body: subscription }),
      ]);
      try {
        expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
        await eventually(async () => platform.router.subscriptions.fanout.stats().subscribers === before.subscribers + 3);
        expect(platform.router.subscriptions.fanout.stats().upstreams).toBe(before.upstreams + 1);
      } finally {
        controller.abort();
      }
    });

    it('refuses a subscription streamed any other way (multipart), and a body of another type', async () => {
      const multipart = await send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'multipart/mixed', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: subscription }),
      });
      expect(multipart.status).toBe(406);
      const plain = await send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: subscription }),
      });
      expect(plain.status).toBe(406);
      expect(plain.body.errors[0]).toMatchObject({
        message: expect.stringMatching(/Subscriptions are served over graphql-ws, or as server-sent events/),
        extensions: { code: 'BAD_REQUEST' },
      });
      const form = new FormData();
      form.set('operations', JSON.stringify({ query: subscription }));
      const other = await send(url, {
        method: 'POST',
        headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'x-graphql-csrf': '1' },
        body: form,
      });
      expect(other.status).toBe(415);
      expect(other.body.errors[0]).toMatchObject({
        message: expect.stringMatching(/not "multipart\/form-data"/),
        extensions: { code: 'BAD_REQUEST' },
      });
    });
  });

  describe('production hygiene', () => {
    it('masks an unexpected error (an unreachable subgraph) as "Unexpected error." with INTERNAL_SERVER_ERROR', async () => {
      const result = await graphql(production.url, '{ datasets { id } }', undefined, { token: await adminToken() });
      expect(result.errors?.length).toBeGreaterThan(0);
      for (const error of result.errors!) {
        expect(error.message).toBe('Unexpected error.');
        expect(error.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(error)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|fetch failed/);
      }
    });

    it('keeps the message of an error raised on purpose', async () => {
      const result = await graphql(production.url, '{ gateway(id: "no-such-gateway") { id } }', undefined, { token });
      expect(result.errors).toEqual([
        expect.objectContaining({ message: 'No gateway "no-such-gateway"', extensions: expect.objectContaining({ code: 'NOT_FOUND' }) }),
      ]);
    });

    it('suggests no field names in production, as development does', async () => {
      const query = '{ gateways { idd } }';
      const development = await graphql(url, query, undefined, { token });
      expect(development.errors?.[0]?.message).toMatch(/Did you mean "id"/);
      const refused = await graphql(production.url, query, undefined, { token });
      expect(refused.errors?.[0]?.message).toBe('Cannot query field "idd" on type "Gateway".');
    });

    it("masks in the subgraphs' formatting too: an Apollo code on an exception is no pass, suggestions are dropped", () => {
      const format = maskError(false);
      const crash = new GraphQLError('Expected value of type "DateTime", found "x"; Cannot read properties of undefined', {
        originalError: new TypeError('Cannot read properties of undefined'),
      });
      expect(format({ message: crash.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, crash)).toMatchObject({
        message: 'Unexpected error.',
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      const wrong = new GraphQLError('Cannot query field "idd" on type "Gateway". Did you mean "id"?');
      expect(format({ message: wrong.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, wrong).message).toBe(
        'Cannot query field "idd" on type "Gateway".',
      );
      const notFound = new GraphQLError('No gateway "x"', { extensions: { code: 'NOT_FOUND' } });
      expect(format({ message: notFound.message, extensions: { code: 'NOT_FOUND' } }, notFound).message).toBe('No gateway "x"');
    });
  });

  describe('long input is quoted only as a short prefix', () => {
    it('in a NOT_FOUND of a subgraph and in a coercion error of the router', async () => {
      const id = 'x'.repeat(200_000);
      const notFound = await send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'query ($id: ID!) { gateway(id: $id) { id } }', variables: { id } }),
      });
      expect(notFound.body.errors[0].extensions.code).toBe('NOT_FOUND');
      expect(notFound.body.errors[0].message).toBe(`No gateway ${quoteInput(id)}`);
      expect(notFound.text.length).toBeLessThan(1_000);
      const coerced = await send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'query ($id: ID!) { gateway(id: $id) { id } }', variables: { id: [id] } }),
      });
      expect(coerced.body.errors[0].message).toMatch(/^Variable "\$id" got invalid value \["x+\.\.\. \(cut\)$/);
      expect(coerced.text.length).toBeLessThan(1_000);
    });

    it('quoteInput keeps 40 characters', () => {
      expect(quoteInput('abc')).toBe('"abc"');
      expect(quoteInput('y'.repeat(1_000))).toBe(`"${'y'.repeat(40)}..."`);
    });
  });

  describe('a subgraph signature names its subgraph', () => {
    const operator: Caller = { kind: 'user', subject: 'ops', tenant: null, scopes: [Scope.ADMIN] };

    it('a request signed for the telemetry subgraph is refused by the devices subgraph', async () => {
      const devices = platform.subgraphs.devices.url;
      const replayed = await subgraphRequest(devices, { query: '{ __typename }' }, operator, platform.subgraphSecret, 'telemetry');
      expect(replayed.status).toBe(401);
      expect(replayed.errors?.[0]?.message).toMatch(/made for another subgraph \("telemetry"\), not devices/);
      expect((await subgraphRequest(devices, { query: '{ __typename }' }, operator, platform.subgraphSecret, 'devices')).status).toBe(200);
    });

    it('a graphql-ws connection signed for the devices subgraph is closed by the telemetry subgraph', async () => {
      const close = (params: Record<string, string>) =>
        new Promise<{ code: number; reason: string }>((resolve) => {
          const client = createClient({
            url: platform.subgraphs.telemetry.url.replace(/^http/, 'ws'),
            webSocketImpl: WebSocket,
            retryAttempts: 0,
            connectionParams: params,
            on: { closed: (event) => resolve(event as { code: number; reason: string }), connected: () => void client.dispose() },
          });
          client.subscribe({ query: '{ __typename }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
        });
      expect(await close(signConnection(operator, 'devices', platform.subgraphSecret))).toMatchObject({
        code: 4401,
        reason: expect.stringMatching(/another subgraph/),
      });
      expect((await close(signConnection(operator, 'telemetry', platform.subgraphSecret))).code).not.toBe(4401);
    });
  });

  describe('failed authentications are rate limited per address', () => {
    it('counts bad tokens toward the address: 429 past the limit, then even a good token of that address waits; another address is served', async () => {
      const from = (address: string, credential: string) =>
        send(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': address, authorization: `Bearer ${credential}` },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await from('198.51.100.9', `guess-${i}`)).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      const locked = await from('198.51.100.9', token);
      expect(locked.status).toBe(429);
      expect(locked.body.errors[0]).toMatchObject({
        message: expect.stringMatching(/failed authentications/),
        extensions: { code: 'RATE_LIMITED' },
      });
      expect((await from('198.51.100.10', token)).status).toBe(200);
    });

    it('counts unknown API keys and graphql-ws connections with bad tokens too', async () => {
      const headers = { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.20', 'x-api-key': 'iotk_nobody_guess' };
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++)
        statuses.push((await send(url, { method: 'POST', headers, body: JSON.stringify({ query: '{ __typename }' }) })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    });
  });

  describe('the dashboard talks to its own origin unless allowed', () => {
    it('serves the allowed origins to the page, and a Content-Security-Policy that lets it connect nowhere else', async () => {
      const handler = dashboardHandler(dashboardOptionsFromEnv(envConfig({ DASHBOARD_API_ORIGINS: 'https://api.example.org' })));
      const server = createServer((req, res) => void handler(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const page = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/?api=https://evil.example.net/graphql`);
        expect(page.headers.get('content-security-policy')).toBe("connect-src 'self' https://api.example.org wss://api.example.org");
        expect(await page.text()).toContain('<meta name="iot-api-origins" content="https://api.example.org">');
      } finally {
        server.close();
      }
      const own = dashboardHandler();
      const ownServer = createServer((req, res) => void own(req, res));
      await new Promise<void>((resolve) => ownServer.listen(0, '127.0.0.1', resolve));
      try {
        const page = await fetch(`http://127.0.0.1:${(ownServer.address() as AddressInfo).port}/`);
        expect(page.headers.get('content-security-policy')).toBe("connect-src 'self'");
      } finally {
        ownServer.close();
      }
      expect(() => dashboardOptionsFromEnv(envConfig({ DASHBOARD_API_ORIGINS: 'https://api.example.org/graphql' }))).toThrow(
        /not an origin/,
      );
    });
  });
});
