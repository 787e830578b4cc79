import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createTokenVerifier, DEVELOPMENT_SECRET, issueApiKey, mintToken, Scope, signConnection, signRequest, type Caller } from '#auth';
import { silentLogger } from '#log';
import type { Platform } from '../../platform/platform.ts';
import { CloseCode, closeReasons } from '../../router/src/closeCodes.ts';
import { RouterAuth } from '../../router/src/plugins/auth.ts';
import { startRouter, type RunningRouter } from '../../router/src/gateway.ts';
import { composeSupergraph, subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import { subgraphRequest, tokenFor } from '../support/auth.ts';
import { graphql, take, wsClient } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

const partner = issueApiKey('test-partner', 'Test partner', 600);
const gatewayQuery = '{ gateway(id: "austin-gw01") { id tenant } }';

/** Closes of a raw graphql-ws connection: the code and reason the server gave. */
function connectionClose(url: string, connectionParams: Record<string, unknown>): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve({ code: 0, reason: 'acknowledged' });
      socket.close();
    });
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    socket.on('error', reject);
  });
}

describe('identity at the router', () => {
  let platform: Platform;
  let url: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ auth: { apiKeys: [partner.record] } });
    url = platform.routerUrl;
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('serves a valid token its tenant', async () => {
    const result = await graphql(url, gatewayQuery, {}, { token: await tokenFor('austin-summit') });
    expect(result.status).toBe(200);
    expect(result.data?.gateway).toEqual({ id: 'austin-gw01', tenant: 'austin-summit' });
  });

  it.each([
    [
      'an expired token',
      async () =>
        mintToken({
          tenant: 'austin-summit',
          scopes: [Scope.DEVICES_READ],
          secret: DEVELOPMENT_SECRET,
          expiresIn: Math.floor(Date.now() / 1000) - 60,
        }),
      /expired/,
    ],
    [
      'a token signed with another key',
      async () => mintToken({ tenant: 'austin-summit', scopes: [Scope.DEVICES_READ], secret: 'someone-elses-secret' }),
      /not signed by a trusted key/,
    ],
    ['a malformed token', async () => 'not.a.jwt', /malformed/],
    [
      'a token without a subject',
      async () =>
        new SignJWT({ tenant: 'austin-summit', scope: 'devices:read' })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(DEVELOPMENT_SECRET)),
      /"sub" claim/,
    ],
    [
      'a token without expiry',
      async () =>
        new SignJWT({ tenant: 'austin-summit', scope: 'devices:read' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('app')
          .sign(new TextEncoder().encode(DEVELOPMENT_SECRET)),
      /"exp" claim/,
    ],
    [
      'a token of no tenant without admin',
      async () => mintToken({ scopes: [Scope.DEVICES_READ], secret: DEVELOPMENT_SECRET }),
      /no "tenant" claim/,
    ],
  ])('answers %s with HTTP 401 and a GraphQL error, over HTTP and graphql-ws', async (_, token, message) => {
    const jwt = await token();
    const result = await graphql(url, gatewayQuery, {}, { token: jwt });
    expect(result.status).toBe(401);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(result.errors?.[0]?.message).toMatch(message);
    const closed = await connectionClose(url, { authorization: `Bearer ${jwt}` });
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/^Unauthorized: /);
  });

  it("ignores scopes of other APIs in a token (an identity provider's openid, profile)", async () => {
    const token = await new SignJWT({ tenant: 'austin-summit', scope: 'openid profile devices:read root' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('app')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(DEVELOPMENT_SECRET));
    expect((await graphql(url, gatewayQuery, {}, { token })).data?.gateway).toEqual({ id: 'austin-gw01', tenant: 'austin-summit' });
    expect(
      (await graphql(url, '{ sensor(id: "austin-gw01.21.0") { latest { value } } }', {}, { token })).errors?.[0]?.extensions,
    ).toMatchObject({ code: 'FORBIDDEN', scope: 'telemetry:read' });
  });

  it('remembers a verified token only until it expires', async () => {
    const verify = createTokenVerifier({ secret: DEVELOPMENT_SECRET });
    const expiresAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
    const token = await mintToken({
      tenant: 'austin-summit',
      scopes: [Scope.DEVICES_READ],
      secret: DEVELOPMENT_SECRET,
      expiresIn: expiresAt / 1000,
    });
    expect(await verify(token)).toMatchObject({ tenant: 'austin-summit' });
    expect(await verify(token)).toMatchObject({ tenant: 'austin-summit' });
    await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 50));
    await expect(verify(token)).rejects.toThrow(/expired/);
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify({ query: gatewayQuery }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });

  it('serves GraphQL at /graphql only: no other path reaches the runtime around the checks', async () => {
    const base = url.replace(/\/graphql$/, '');
    for (const path of ['/x/graphql', '/graphql/', '/opendata/graphql', '/?a=/graphql']) {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ datasets { id } }' }),
      });
      expect([path, response.status]).toEqual([path, 404]);
    }
  });

  it('accepts a partner API key for open data and refuses an unknown one', async () => {
    const ok = await graphql(url, '{ datasets { id license { name } } }', {}, { apiKey: partner.key });
    expect(ok.status).toBe(200);
    expect(ok.data?.datasets.length).toBeGreaterThan(0);
    const forged = await graphql(url, '{ datasets { id } }', {}, { apiKey: `iotk_test-partner_${'x'.repeat(32)}` });
    expect(forged.status).toBe(401);
    expect(forged.errors?.[0]?.message).toMatch(/API key is not valid/);
    const download = await fetch(url.replace('/graphql', '/opendata/catalog.jsonld'), {
      headers: { 'x-api-key': 'iotk_nobody_aaaaaaaaaaaaaaaaaaaaaaaa' },
    });
    expect(download.status).toBe(401);
  });

  it('gives anonymous callers open data, and HTTP 401 for the rest', async () => {
    const open = await graphql(url, '{ datasets { id } }');
    expect(open.status).toBe(200);
    expect(open.data?.datasets.length).toBeGreaterThan(0);
    const closed = await graphql(url, gatewayQuery);
    expect(closed.status).toBe(401);
    expect(closed.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('names the missing scope in a FORBIDDEN error', async () => {
    const result = await graphql(url, gatewayQuery, {}, { token: await tokenFor('austin-summit', [Scope.TELEMETRY_READ]) });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'devices:read' });
    expect(result.errors?.[0]?.message).toMatch(/devices:read/);
  });

  it('authenticates a graphql-ws subscription with connectionParams', async () => {
    const client = wsClient(url, { token: await tokenFor('austin-summit') });
    try {
      const [event] = await take<{ readings: { sensor: { id: string } } }>(
        client,
        'subscription { readings(gatewayId: "austin-gw01") { value sensor { id } } }',
        1,
      );
      expect(event!.data!.readings.sensor.id).toMatch(/^austin-gw01\./);
    } finally {
      await client.dispose();
    }
  });

  it('ends a graphql-ws connection when its token expires', async () => {
    const token = await mintToken({
      tenant: 'austin-summit',
      scopes: [Scope.TELEMETRY_READ],
      secret: DEVELOPMENT_SECRET,
      expiresIn: Math.floor(Date.now() / 1000) + 2,
    });
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const acknowledged = new Promise((resolve) =>
      socket.on('message', (data) => JSON.parse(String(data)).type === 'connection_ack' && resolve(true)),
    );
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    await acknowledged;
    const opened = Date.now();
    // Not 4401, which graphql-ws' client never retries: it reconnects with a fresh token (test/reconnect.test.ts).
    expect(await closed).toEqual({ code: CloseCode.TokenExpired, reason: closeReasons[CloseCode.TokenExpired] });
    expect(Date.now() - opened).toBeLessThan(4_000);
  });

  it('ends a server-sent events subscription when its token expires', async () => {
    const token = await mintToken({
      tenant: 'austin-summit',
      scopes: [Scope.TELEMETRY_READ],
      secret: DEVELOPMENT_SECRET,
      expiresIn: Math.floor(Date.now() / 1000) + 2,
    });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'subscription { readings(gatewayId: "austin-gw01") { value } }' }),
    });
    expect(response.status).toBe(200);
    const opened = Date.now();
    const text = await response.text();
    expect(text).toMatch(/"value":/);
    expect(text).toMatch(/the token has expired.*UNAUTHENTICATED/);
    expect(text.trimEnd()).toMatch(/event: complete\ndata:$/);
    expect(Date.now() - opened).toBeLessThan(5_000);
  });

  it('npm run token mints a token the router accepts, with the scopes asked for', async () => {
    const { stdout } = await promisify(execFile)(
      'npx',
      ['tsx', 'scripts/token.ts', '--tenant', 'austin-summit', '--scopes', 'telemetry:read'],
      { cwd: new URL('../..', import.meta.url) },
    );
    const caller = await createTokenVerifier({ secret: DEVELOPMENT_SECRET })(stdout.trim());
    expect(caller).toMatchObject({ kind: 'user', tenant: 'austin-summit', scopes: ['telemetry:read'] });
    const result = await graphql(url, gatewayQuery, {}, { token: stdout.trim() });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'devices:read' });
  });
});

describe('trust between router and subgraphs', () => {
  let platform: Platform;
  const operator: Caller = { kind: 'user', subject: 'ops', tenant: null, scopes: [Scope.ADMIN] };
  // An entity each subgraph resolves.
  const entityOf = {
    devices: ['Gateway', 'austin-gw01'],
    infrastructure: ['Gateway', 'austin-gw01'],
    telemetry: ['Sensor', 'austin-gw01.21.0'],
    opendata: ['Dataset', 'indoor-environment'],
  };
  const entities = (name: keyof typeof entityOf) => {
    const [typename, id] = entityOf[name];
    return {
      query: `query ($r: [_Any!]!) { _entities(representations: $r) { ... on ${typename} { id } } }`,
      variables: { r: [{ __typename: typename, id }] },
    };
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ startCollector: false });
  });

  afterAll(async () => {
    await platform?.close();
  });

  it.each(['devices', 'telemetry', 'infrastructure', 'opendata'] as const)(
    'the %s subgraph refuses _entities and queries without the router signature',
    async (name) => {
      const subgraph = platform.subgraphs[name].url;
      const unsigned = await subgraphRequest(subgraph, entities(name));
      expect(unsigned.status).toBe(401);
      expect(unsigned.errors?.[0]?.message).toMatch(/not signed by the router/);
      const wrongKey = await subgraphRequest(subgraph, entities(name), operator, 'not-the-router-secret');
      expect(wrongKey.status).toBe(401);
      expect(wrongKey.errors?.[0]?.message).toMatch(/does not match/);
      const signed = await subgraphRequest(subgraph, entities(name), operator, platform.subgraphSecret);
      expect(signed.status).toBe(200);
      expect(signed.errors).toBeUndefined();
      expect(signed.data._entities).toEqual([{ id: entityOf[name][1] }]);
    },
  );

  it('accepts a signed request once: not again, not with another body, caller or path, not long after', async () => {
    const subgraph = platform.subgraphs.devices.url;
    const body = JSON.stringify({ query: '{ gateways { id } }' });
    const request = { audience: 'devices', method: 'POST', path: '/graphql', body };
    const tenant: Caller = { kind: 'user', subject: 'a', tenant: 'pisek-city', scopes: [Scope.DEVICES_READ] };
    const send = async (headers: Record<string, string>, text = body, url = subgraph) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
      return { status: response.status, text: await response.text() };
    };
    const headers = signRequest(tenant, request, platform.subgraphSecret);
    expect((await send(headers)).status).toBe(200);
    expect(await send(headers)).toMatchObject({ status: 401, text: expect.stringMatching(/used before/) });
    expect(
      await send(signRequest(tenant, request, platform.subgraphSecret), JSON.stringify({ query: '{ gateways { id tenant } }' })),
    ).toMatchObject({ status: 401, text: expect.stringMatching(/does not match/) });
    const asAdmin = {
      ...signRequest(tenant, request, platform.subgraphSecret),
      'x-iot-caller': Buffer.from(JSON.stringify(operator)).toString('base64url'),
    };
    expect((await send(asAdmin)).status).toBe(401);
    expect((await send(signRequest(tenant, { ...request, path: '/graphql?x=1' }, platform.subgraphSecret))).status).toBe(401);
    const stale = await send(signRequest(operator, request, platform.subgraphSecret, Date.now() - 2 * 60_000));
    expect(stale).toMatchObject({ status: 401, text: expect.stringMatching(/expired/) });
    // A connection's signature opens no HTTP request.
    expect((await send(signConnection(operator, 'devices', platform.subgraphSecret))).status).toBe(401);
  });

  it('the telemetry subgraph closes an unsigned graphql-ws connection with 4401, and serves signed ones subscriptions only', async () => {
    const telemetry = platform.subgraphs.telemetry.url;
    expect(await connectionClose(telemetry, {})).toMatchObject({ code: 4401 });
    expect(await connectionClose(telemetry, signConnection(operator, 'telemetry', 'not-the-router-secret'))).toMatchObject({ code: 4401 });
    expect(
      await connectionClose(telemetry, signConnection(operator, 'telemetry', platform.subgraphSecret, Date.now() - 5 * 60_000)),
    ).toMatchObject({ code: 4401 });
    expect(await connectionClose(telemetry, signConnection(operator, 'telemetry', platform.subgraphSecret))).toMatchObject({ code: 0 });
    const client = createClient({
      url: telemetry.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: signConnection(operator, 'telemetry', platform.subgraphSecret),
    });
    try {
      const refused = await new Promise<unknown>((resolve) =>
        client.subscribe({ query: '{ sensor: _service { sdl } }' }, { next: resolve, error: resolve, complete: () => undefined }),
      );
      expect(JSON.stringify(refused)).toMatch(/subscriptions only/);
    } finally {
      await client.dispose();
    }
  });
});

describe('tokens from an identity provider (RS256 and ES256 with a JWKS URL)', () => {
  let platform: Platform;
  let router: RunningRouter;
  let jwks: Server;
  const keys = {} as Record<'RS256' | 'ES256', CryptoKey>;

  beforeAll(async () => {
    const published: object[] = [];
    for (const alg of ['RS256', 'ES256'] as const) {
      const pair = await generateKeyPair(alg);
      keys[alg] = pair.privateKey;
      published.push({ ...(await exportJWK(pair.publicKey)), kid: alg, alg, use: 'sig' });
    }
    jwks = createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    platform = await startTestPlatform({ startCollector: false });
    const urls = Object.fromEntries(subgraphList.map(({ name }) => [name, platform.subgraphs[name].url])) as Record<SubgraphName, string>;
    const verifyToken = createTokenVerifier({
      jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
      issuer: 'https://id.example.org',
      audience: 'iot-api',
    });
    router = await startRouter({
      supergraph: await composeSupergraph(urls),
      port: 0,
      logger: silentLogger,
      auth: new RouterAuth({ verifyToken, subgraphSecret: platform.subgraphSecret }),
    });
  });

  afterAll(async () => {
    await router?.close();
    await platform?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  const providerToken = (alg: 'RS256' | 'ES256', claims: { iss?: string; aud?: string } = {}) =>
    new SignJWT({ tenant: 'pisek-city', scope: 'devices:read' })
      .setProtectedHeader({ alg, kid: alg })
      .setIssuer(claims.iss ?? 'https://id.example.org')
      .setAudience(claims.aud ?? 'iot-api')
      .setSubject('partner-app')
      .setExpirationTime('5m')
      .sign(keys[alg]);

  it.each(['RS256', 'ES256'] as const)('accepts a %s token signed by a key of the JWKS', async (alg) => {
    const result = await graphql(router.url, '{ gateway(id: "pisek-gw001") { tenant } }', {}, { token: await providerToken(alg) });
    expect(result.status).toBe(200);
    expect(result.data?.gateway).toEqual({ tenant: 'pisek-city' });
  });

  it('refuses another issuer or audience, and the development HS256 tokens', async () => {
    for (const [token, message] of [
      [await providerToken('RS256', { iss: 'https://evil.example.org' }), /"iss" claim/],
      [await providerToken('ES256', { aud: 'another-api' }), /"aud" claim/],
      [await tokenFor('pisek-city'), /algorithm/],
    ] as const) {
      const result = await graphql(router.url, '{ gateway(id: "pisek-gw001") { tenant } }', {}, { token });
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.message).toMatch(message);
    }
  });
});
