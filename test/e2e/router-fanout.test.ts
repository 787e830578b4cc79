import { createClient, type Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { silentLogger } from '#log';
import type { Platform } from '../../platform/platform.ts';
import { composeSupergraph, subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { startRouter, type RunningRouter } from '../../router/src/gateway.ts';
import { SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_CLOSE_REASON } from '../../router/src/plugins/sendQueueLimit.ts';
import { adminToken, tokenFor } from '../support/auth.ts';
import { eventually, take } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

type Result = { data?: Record<string, any> | null; errors?: unknown };

const liveCO2 = /* GraphQL */ `
  subscription Live($gatewayId: ID, $quantity: Quantity) {
    readings(gatewayId: $gatewayId, quantity: $quantity) {
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
// The same operation, written differently: it shares the execution of `liveCO2`.
const liveCO2Reformatted =
  'subscription Live($gatewayId:ID,$quantity:Quantity){readings(gatewayId:$gatewayId,quantity:$quantity){value time sensor{id name room gateway{name node{ready}}}}}';

describe('shared subscriptions and back-pressure in the router', () => {
  let platform: Platform;
  let router: RunningRouter;
  let baselineListeners = 0;
  const clients: Client[] = [];
  const sendQueueLimit = 256 * 1024;
  /** The clients' token unless a test gives another: an operator's (the tests span tenants). */
  let admin: string;

  /** Listeners on the telemetry subgraph's live bus: one per upstream subscription it serves. */
  const busListeners = () => (platform.bus as unknown as { listeners: Set<unknown> }).listeners.size - baselineListeners;
  const client = (token = admin) => {
    const created = createClient({
      url: router.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: `Bearer ${token}` },
    });
    clients.push(created);
    return created;
  };
  let collectorStarted = false;
  const startCollector = async () => {
    if (!collectorStarted) await platform.collector.start();
    collectorStarted = true;
  };

  beforeAll(async () => {
    platform = await startTestPlatform({ startCollector: false });
    admin = await adminToken();
    baselineListeners = (platform.bus as unknown as { listeners: Set<unknown> }).listeners.size;
    // A router of its own, with a small send queue so a slow client is found within seconds.
    const urls = Object.fromEntries(subgraphList.map(({ name }) => [name, platform.subgraphs[name].url])) as Record<SubgraphName, string>;
    router = await startRouter({
      supergraph: await composeSupergraph(urls),
      port: 0,
      logger: silentLogger,
      auth: developmentRouterAuth(platform.subgraphSecret),
      sendQueue: { maxBufferedBytes: sendQueueLimit, closeGraceMs: 60_000 },
    });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await eventually(async () => busListeners() === 0 && router.subscriptions.fanout.stats().upstreams === 0, 10_000);
  });

  afterAll(async () => {
    await router?.close();
    await platform?.close();
  });

  it('gives identical subscriptions one upstream subscription and the same events', async () => {
    const subscribers = 6;
    const events: Result[][] = [];
    const unsubscribe: Array<() => void> = [];
    for (let i = 0; i < subscribers; i++) {
      const received: Result[] = [];
      events.push(received);
      // Same variables in another key order, half the documents reformatted.
      const variables = i % 2 ? { quantity: 'CO2', gatewayId: 'austin-gw01' } : { gatewayId: 'austin-gw01', quantity: 'CO2' };
      unsubscribe.push(
        client().subscribe(
          { query: i % 2 ? liveCO2Reformatted : liveCO2, variables },
          { next: (r) => void received.push(r as Result), error: () => {}, complete: () => {} },
        ),
      );
    }
    await eventually(async () => router.subscriptions.fanout.stats().subscribers === subscribers && busListeners() === 1);
    // Every subscriber is in before the first reading is published.
    await startCollector();
    await eventually(async () => events.every((received) => received.length >= 5), 20_000);
    unsubscribe.forEach((stop) => stop());

    expect(busListeners()).toBeLessThanOrEqual(1);
    const firstFive = events.map((received) => received.slice(0, 5));
    for (const received of firstFive) expect(received).toEqual(firstFive[0]);
    expect(firstFive[0]![0]!.data!.readings.sensor.gateway.name).toBe('Austin Convention Center, 3rd floor');
    const stats = router.subscriptions.fanout.stats();
    expect(stats.deliveries).toBeGreaterThanOrEqual(stats.events * subscribers - subscribers);
  });

  it('keeps subscriptions with other variables or another tenant apart', async () => {
    await startCollector();
    const [austinSummit, pisekCity] = await Promise.all([tokenFor('austin-summit'), tokenFor('pisek-city')]);
    // Kept open until counted: a subscription that got its events and ended would release its upstream.
    const follow = (token: string | undefined, gatewayId: string) => {
      const events: Result[] = [];
      client(token).subscribe(
        { query: liveCO2, variables: { gatewayId } },
        { next: (r) => void events.push(r as Result), error: () => {}, complete: () => {} },
      );
      return events;
    };
    const austin = follow(austinSummit, 'austin-gw01');
    const pisek = follow(undefined, 'pisek-gw001');
    const pisekAgain = follow(undefined, 'pisek-gw001');
    // The same operation and variables as the operator's two, by the tenant: a caller of its own.
    const otherTenant = follow(pisekCity, 'pisek-gw001');
    // And by another tenant: not pisek-city's readings but an execution of its own, which its wall refuses.
    const [foreign] = await take(client(austinSummit), liveCO2, 1, 15_000, { gatewayId: 'pisek-gw001' });
    expect(foreign!.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);
    await eventually(async () => router.subscriptions.fanout.stats().subscribers === 4);
    expect(router.subscriptions.fanout.stats().upstreams).toBe(3);
    await eventually(async () => busListeners() === 3);
    await eventually(async () => [austin, pisek, pisekAgain, otherTenant].every((events) => events.length >= 2));
    expect(austin.every((e) => e.data!.readings.sensor.id.startsWith('austin-gw01.'))).toBe(true);
    expect(pisek.every((e) => e.data!.readings.sensor.id.startsWith('pisek-gw001.'))).toBe(true);
    expect(pisekAgain.every((e) => e.data!.readings.sensor.id.startsWith('pisek-gw001.'))).toBe(true);
  });

  it('goes on for the others when a subscriber leaves, and closes upstream after the last', async () => {
    await startCollector();
    const stays = client();
    const leavesByComplete = client();
    const leavesByClosing = client();
    const received: Result[] = [];
    const stopStaying = stays.subscribe(
      { query: liveCO2, variables: { gatewayId: 'austin-gw01' } },
      { next: (r) => void received.push(r as Result), error: () => {}, complete: () => {} },
    );
    const stopCompleting = leavesByComplete.subscribe(
      { query: liveCO2, variables: { gatewayId: 'austin-gw01' } },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    leavesByClosing.subscribe(
      { query: liveCO2, variables: { gatewayId: 'austin-gw01' } },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    await eventually(async () => router.subscriptions.fanout.stats().subscribers === 3 && received.length > 0);
    expect(busListeners()).toBe(1);

    stopCompleting();
    await leavesByClosing.dispose();
    await eventually(async () => router.subscriptions.fanout.stats().subscribers === 1);
    const before = received.length;
    await eventually(async () => received.length >= before + 3);
    expect(busListeners()).toBe(1);
    expect(router.subscriptions.fanout.stats().upstreams).toBe(1);

    stopStaying();
    await eventually(async () => busListeners() === 0, 10_000);
    expect(router.subscriptions.fanout.stats()).toMatchObject({ upstreams: 0, subscribers: 0 });
  });

  it('hands an error of the shared execution to each of its subscribers', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => take(client(), 'subscription { readings { value } }', 1, 5_000)));
    for (const [result] of results) {
      expect(result!.errors).toMatchObject([
        { message: expect.stringMatching(/sensorIds or gatewayId/), extensions: { code: 'BAD_USER_INPUT' } },
      ]);
    }
    expect(router.subscriptions.fanout.stats().upstreams).toBe(0);
  });

  it('answers queries over graphql-ws on the normal path', async () => {
    const eventsBefore = router.subscriptions.fanout.stats().events;
    const [result] = await take(client(), '{ gateway(id: "austin-gw01") { name } }', 1, 5_000);
    expect(result!.data).toEqual({ gateway: { name: 'Austin Convention Center, 3rd floor' } });
    expect(router.subscriptions.fanout.stats().events).toBe(eventsBefore);
  });

  it('closes a client that stops reading with CloseCode.SlowConsumer, while the others keep receiving', async () => {
    await startCollector();
    const received: Result[] = [];
    client().subscribe(
      { query: liveCO2, variables: { gatewayId: 'austin-gw01' } },
      { next: (r) => void received.push(r as Result), error: () => {}, complete: () => {} },
    );

    // A raw graphql-ws client with many subscriptions, so that its bytes add up fast.
    const slow = new WebSocket(router.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      slow.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    await new Promise<void>((resolve, reject) => {
      slow.once('open', () => slow.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${admin}` } })));
      slow.once('message', (data) => (JSON.parse(String(data)).type === 'connection_ack' ? resolve() : reject(new Error(String(data)))));
      slow.once('error', reject);
    });
    const subscriptions = 300;
    for (let id = 0; id < subscriptions; id++) {
      slow.send(
        JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: liveCO2, variables: { gatewayId: 'austin-gw01' } } }),
      );
    }
    let slowFrames = 0;
    slow.on('message', () => slowFrames++);
    await eventually(async () => slowFrames > subscriptions);
    // Stop reading: the kernel's buffers fill, then the router's queue for this connection.
    const socket = (slow as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();

    const slowBefore = router.subscriptions.sendQueue.slowConsumers;
    await eventually(async () => router.subscriptions.sendQueue.slowConsumers > slowBefore, 40_000, 200);
    const before = received.length;
    await eventually(async () => received.length >= before + 3);

    socket.resume();
    expect(await closed).toEqual({ code: SLOW_CONSUMER_CLOSE_CODE, reason: SLOW_CONSUMER_CLOSE_REASON });
    await eventually(async () => router.subscriptions.fanout.stats().subscribers === 1);
  }, 60_000);
  it('shares SSE subscriptions too, with the graphql-ws ones of the same operation', async () => {
    await startCollector();
    const body = JSON.stringify({ query: liveCO2Reformatted, variables: { gatewayId: 'austin-gw01', quantity: 'CO2' } });
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const streams = await Promise.all(
      controllers.map((controller) =>
        fetch(router.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
          body,
          signal: controller.signal,
        }),
      ),
    );
    const ws = take(client(), liveCO2, 2, 15_000, { gatewayId: 'austin-gw01', quantity: 'CO2' });
    const events = await Promise.all(
      streams.map(async (response) => {
        expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        while ((text.match(/^data: \{/gm) ?? []).length < 2) text += decoder.decode((await reader.read()).value, { stream: true });
        return text
          .split('\n')
          .filter((line) => line.startsWith('data: {'))
          .map((line) => JSON.parse(line.slice(6)));
      }),
    );
    await ws;
    // Three SSE streams and a graphql-ws subscription of the same operation: one upstream.
    expect(router.subscriptions.fanout.stats().upstreams).toBe(1);
    expect(busListeners()).toBe(1);
    for (const received of events) {
      expect(received[0].data.readings.sensor.gateway).toEqual({ name: 'Austin Convention Center, 3rd floor', node: { ready: true } });
      expect(received.slice(0, 2)).toEqual(events[0]!.slice(0, 2));
    }
    controllers.forEach((controller) => controller.abort());
    // A query that accepts SSE still gets its answer from the runtime.
    const query = await fetch(router.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query: '{ gateways { id } }' }),
    });
    expect(await query.text()).toMatch(/austin-gw01/);
  });
});
