import type { Socket } from 'node:net';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Scope } from '#auth';
import { silentLogger } from '#log';
import type { Platform } from '../../platform/platform.ts';
import { CloseCode, closeReasons } from '../../router/src/closeCodes.ts';
import { composeSupergraph, subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { startRouter, type RunningRouter } from '../../router/src/gateway.ts';
import { adminToken, tokenFor } from '../support/auth.ts';
import { eventually } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

type Reading = { cursor: string; time: string; sensor: { id: string } };

const liveReadings = /* GraphQL */ `
  subscription Live($gatewayId: ID!, $after: String) {
    readings(gatewayId: $gatewayId, after: $after) {
      cursor
      time
      sensor {
        id
      }
    }
  }
`;
// Heavy events for the filler subscriptions that make a connection's bytes add up fast.
const heavy = /* GraphQL */ `
  subscription Heavy($gatewayId: ID) {
    readings(gatewayId: $gatewayId) {
      value
      time
      sensor {
        id
        name
        room
        gateway {
          name
          node {
            ready
          }
        }
      }
    }
  }
`;

/** Every socket a client opened, in order: to stop reading on one as a slow consumer would. */
const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols);
    sockets.push(this);
  }
}

/**
 * The stock graphql-ws client, with its default retry (`retryAttempts`, `shouldRetry`,
 * `retryWait` not set), as partners use it.
 */
function stockClient(url: string, connectionParams: ClientOptions['connectionParams']): Client {
  return createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: TrackedWebSocket, lazy: true, connectionParams });
}

/**
 * A subscription that keeps the cursor of its last reading in its variables, which the client
 * sends again as they are when it re-subscribes after a reconnect.
 */
function follow(client: Client, gatewayId: string): { received: Reading[]; errors: unknown[] } {
  const payload = { query: liveReadings, variables: { gatewayId, after: null as string | null } };
  const received: Reading[] = [];
  const errors: unknown[] = [];
  client.subscribe<{ readings: Reading }>(payload, {
    next: (result) => {
      if (result.errors) errors.push(result.errors);
      const reading = result.data?.readings;
      if (!reading) return;
      received.push(reading);
      payload.variables.after = reading.cursor;
    },
    error: (error) => void errors.push(error),
    complete: () => {},
  });
  return { received, errors };
}

/** Each close and each connection of a client, with whether graphql-ws connected on a retry. */
function watchConnection(client: Client): { closes: Array<{ code: number; reason: string }>; retried: number } {
  const seen = { closes: [] as Array<{ code: number; reason: string }>, retried: 0 };
  client.on(
    'closed',
    (event) => void seen.closes.push({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }),
  );
  client.on('connected', (_socket, _payload, wasRetry) => void (wasRetry && seen.retried++));
  return seen;
}

describe('the stock graphql-ws client reconnects and resumes with its last cursor', () => {
  let platform: Platform;
  let router: RunningRouter;
  const clients: Client[] = [];
  /** What the collector published for austin-gw01, in order: `sensor@time`. */
  const published: string[] = [];

  /** `got` is a run of published readings: nothing missed, nothing twice. */
  const expectNoGap = (got: Reading[]) => {
    const keys = got.map((reading) => `${reading.sensor.id}@${Date.parse(reading.time)}`);
    const start = published.indexOf(keys[0]!);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(keys).toEqual(published.slice(start, start + keys.length));
    expect(new Set(got.map((reading) => reading.cursor)).size).toBe(got.length);
  };

  beforeAll(async () => {
    platform = await startTestPlatform();
    platform.bus.subscribe((readings) => {
      for (const reading of readings) if (reading.gatewayId === 'austin-gw01') published.push(`${reading.sensorId}@${reading.time}`);
    });
    // A router of its own, with a small send queue so a slow client is found within seconds.
    const urls = Object.fromEntries(subgraphList.map(({ name }) => [name, platform.subgraphs[name].url])) as Record<SubgraphName, string>;
    router = await startRouter({
      supergraph: await composeSupergraph(urls),
      port: 0,
      logger: silentLogger,
      auth: developmentRouterAuth(platform.subgraphSecret),
      sendQueue: { maxBufferedBytes: 256 * 1024, closeGraceMs: 60_000 },
    });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
    sockets.splice(0);
  });

  afterAll(async () => {
    await router?.close();
    await platform?.close();
  });

  it('after a slow-consumer close, with no gap or duplicate', async () => {
    const admin = await adminToken();
    const client = stockClient(router.url, () => ({ authorization: `Bearer ${admin}` }));
    clients.push(client);
    const connection = watchConnection(client);
    const { received, errors } = follow(client, 'austin-gw01');
    for (let i = 0; i < 300; i++)
      client.subscribe({ query: heavy, variables: { gatewayId: 'austin-gw01' } }, { next: () => {}, error: () => {}, complete: () => {} });
    await eventually(async () => received.length >= 3);

    // Stop reading: the kernel's buffers fill, then the router's queue for this connection.
    const first = sockets[0]!;
    const tcp = (first as unknown as { _socket: Socket })._socket;
    const slowBefore = router.subscriptions.sendQueue.slowConsumers;
    tcp.pause();
    await eventually(async () => router.subscriptions.sendQueue.slowConsumers > slowBefore, 40_000, 200);
    tcp.resume();

    await eventually(async () => connection.retried >= 1, 15_000);
    expect(connection.closes[0]).toEqual({ code: CloseCode.SlowConsumer, reason: closeReasons[CloseCode.SlowConsumer] });
    const atReconnect = received.length;
    await eventually(async () => received.length >= atReconnect + 10, 15_000);
    expect(sockets.length).toBe(2);
    expect(errors).toEqual([]);
    expectNoGap(received);
  }, 90_000);

  it('after its token expired, with a fresh token from connectionParams and no gap', async () => {
    const tokens: string[] = [];
    const expiresAt = Math.floor(Date.now() / 1000) + 3;
    // The first connection's token expires in ~3 s; the client asks for a fresh one when it reconnects.
    const client = stockClient(router.url, async () => {
      const token = await tokenFor('austin-summit', [Scope.TELEMETRY_READ], tokens.length === 0 ? expiresAt : '1h');
      tokens.push(token);
      return { authorization: `Bearer ${token}` };
    });
    clients.push(client);
    const connection = watchConnection(client);
    const { received, errors } = follow(client, 'austin-gw01');
    await eventually(async () => received.length >= 3);

    await eventually(async () => connection.retried >= 1, 15_000);
    expect(connection.closes[0]).toEqual({ code: CloseCode.TokenExpired, reason: closeReasons[CloseCode.TokenExpired] });
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).not.toBe(tokens[0]);
    const atReconnect = received.length;
    await eventually(async () => received.length >= atReconnect + 10, 15_000);
    expect(errors).toEqual([]);
    expectNoGap(received);
  }, 60_000);

  it('but not after a token refused at connection time: 4401 stays fatal', async () => {
    const client = stockClient(router.url, () => ({ authorization: 'Bearer not.a.jwt' }));
    clients.push(client);
    const connection = watchConnection(client);
    const { errors } = follow(client, 'austin-gw01');
    await eventually(async () => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 4401 });
    expect(connection.retried).toBe(0);
    expect(sockets).toHaveLength(1);
  });
});
