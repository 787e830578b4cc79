import { readFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVELOPMENT_SUBGRAPH_SECRET } from '#auth';
import { defaultTopics, IqrfClient, IqrfResponseError, MsgId, MType, topicFor, type DaemonResponse } from '#iqrf';
import type { RunningSubgraph } from '#kit';
import { silentLogger } from '#log';
import { loadOpenDataCatalog } from '#opendata-catalog';
import { FrcDecoder } from '../../collector/src/frc-decoder.ts';
import { DEFAULT_SUPERGRAPH_FILE, wireRouter, type RunningRouter } from '../../router/src/index.ts';
import { useOpenDataProxy } from '../../router/src/plugins/openDataProxy.ts';
import { startCloudSimulator, defaultCloudCredentials, type CloudSimulator } from '../../simulator/src/cloud/index.ts';
import { buildScenario } from '../../simulator/src/scenario.ts';
import { wireOpendata } from '../../subgraphs/opendata/src/index.ts';
import { LoopbackMqtt } from '../support/loopback-mqtt.ts';

/** Listens on a free loopback port; the server's port. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Sends `GET <target>` as written (an origin-form path starting `//`, or an absolute-form URL); the status line. */
async function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: router\r\nConnection: close\r\n\r\n`));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe("the router's /opendata proxy", () => {
  let opendata: RunningSubgraph;
  let router: RunningRouter;
  /** A service on the router's network that no caller may reach through it. */
  const internal = { server: createServer(), requests: [] as string[], port: 0 };

  beforeAll(async () => {
    internal.server.on('request', (req: IncomingMessage, res) => {
      internal.requests.push(`${req.method} ${req.url}`);
      res.end('internal secret');
    });
    internal.port = await listen(internal.server);
    opendata = await wireOpendata({
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      trust: { secret: DEVELOPMENT_SUBGRAPH_SECRET },
      sources: { catalog: await loadOpenDataCatalog() },
    });
    const supergraph = (await readFile(DEFAULT_SUPERGRAPH_FILE, 'utf8')).replace(
      /(@join__graph\(name: "opendata", url: ")[^"]*(")/,
      `$1${opendata.url}$2`,
    );
    router = await wireRouter({ supergraph, port: 0, logger: silentLogger });
  });

  afterAll(async () => {
    await router?.close();
    await opendata?.close();
    await close(internal.server);
  });

  it.each([
    ['an origin-form target starting with //', (port: number) => `//127.0.0.1:${port}/opendata/catalog.jsonld`],
    ['an absolute-form target', (port: number) => `http://127.0.0.1:${port}/opendata/catalog.jsonld`],
  ])('does not let %s choose the host it connects to', async (_, target) => {
    const status = await rawGet(router.port, target(internal.port));
    expect(internal.requests).toEqual([]);
    // The path goes to the opendata subgraph, which serves it.
    expect(status).toBe('HTTP/1.1 200 OK');
  });

  it('gives up on an upstream that does not answer: 504 in the downloads error shape, the upstream request ended', async () => {
    const stuck = { server: createServer(), closed: 0 };
    stuck.server.on('request', (req: IncomingMessage) => req.socket.once('close', () => stuck.closed++));
    const upstreamPort = await listen(stuck.server);
    const [route] = useOpenDataProxy({
      upstream: `http://127.0.0.1:${upstreamPort}/graphql`,
      logger: silentLogger,
      idleTimeoutMs: 200,
    }).routes!;
    const front = createServer((req, res) => void route!.serve(req, res));
    const port = await listen(front);
    try {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${port}/opendata/catalog.jsonld`, { signal: AbortSignal.timeout(5_000) });
      expect(response.status).toBe(504);
      expect(await response.json()).toEqual({ error: { code: 'UPSTREAM_ERROR', message: expect.stringMatching(/in time/) } });
      expect(Date.now() - started).toBeLessThan(3_000);
      await expect.poll(() => stuck.closed).toBe(1);
    } finally {
      await close(front);
      await close(stuck.server);
    }
  });
});

describe('IqrfClient.stream against a daemon that floods it', () => {
  it('fails the request with a clear reason, the process untouched, when more messages come than the reader takes', async () => {
    const broker = new LoopbackMqtt();
    const daemon = broker.client();
    let msgId = '';
    daemon.on('message', (_topic: string, payload: Buffer) => (msgId = (JSON.parse(payload.toString()) as DaemonResponse).data.msgId));
    await daemon.subscribeAsync(topicFor(defaultTopics.requests, '+'));
    const client = new IqrfClient(broker.client(), { logger: silentLogger });
    await client.start();
    try {
      const stream = client.stream('gw-1', MType.AUTO_NETWORK, { discoveryTxPower: 7 }, (rsp) => rsp.lastWave === true);
      const first = stream.next();
      await expect.poll(() => msgId).not.toBe('');
      // Delivered in one turn, as one TCP read of many messages is: the reader takes none meanwhile.
      for (let wave = 1; wave <= 1100; wave++)
        daemon.publish(
          topicFor(defaultTopics.responses, 'gw-1'),
          JSON.stringify({ mType: MType.AUTO_NETWORK, data: { msgId, status: 0, rsp: { wave } } }),
        );
      await sleep(50);
      expect((await first).value).toMatchObject({ wave: 1 });
      let read = 1;
      const failure = await (async () => {
        for await (const _progress of stream) read++;
      })().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(IqrfResponseError);
      expect((failure as Error).message).toMatch(/more than 1024 messages not yet read/);
      expect(read).toBeLessThanOrEqual(1025);
    } finally {
      client.close();
    }
  });
});

describe('FrcDecoder against an answer with more entries than nodes asked', () => {
  it('refuses it by its length, before reading any entry', async () => {
    const msgIds = new MsgId();
    const decoder = new FrcDecoder({
      iqrf: { msgIds, requestTimeoutMs: 10_000 },
      catalog: { mesh: () => Promise.reject(new Error('not asked')) },
      registry: { getMany: () => Promise.reject(new Error('not asked')) },
      intervalMs: 60_000,
      answerWindowMs: 70_000,
    });
    let entriesRead = 0;
    const entries = new Proxy(
      Array.from({ length: 100_000 }, () => ({ type: 1, value: 'hostile' })),
      {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) entriesRead++;
          return Reflect.get(target, key, receiver) as unknown;
        },
      },
    );
    const response: DaemonResponse = {
      mType: MType.SENSOR_FRC,
      data: { msgId: 'm', status: 0, rsp: { result: { sensorIndex: 0, sensors: entries } } },
    };
    const decoded = await decoder.decode('gw-1', response, { sensorType: 1, sensorIndex: 0, nodes: [1, 2] }, Date.now());
    expect(decoded).toEqual({ kind: 'rejected', reason: 'oversized', detail: '100000 entries for 2 nodes asked' });
    expect(entriesRead).toBe(0);
  });
});

describe("the simulated Keystone's project paths", () => {
  let sim: CloudSimulator;

  beforeAll(async () => {
    sim = await startCloudSimulator({ scenario: buildScenario('demo'), logger: silentLogger, nodeReadyDelayMs: 10 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('answers a project id that is not valid percent-encoding 404, not 500', async () => {
    const base = sim.openstackAuthUrl.replace(/\/$/, '');
    const c = defaultCloudCredentials;
    const issued = await fetch(`${base}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: c.username, domain: { id: 'default' }, password: c.password } } },
          scope: { project: { name: c.projectName, domain: { id: 'default' } } },
        },
      }),
    });
    const token = issued.headers.get('x-subject-token')!;
    expect(token).toBeTruthy();
    for (const id of ['%', '%zz', '%E0%A4%A']) {
      const status = await new Promise<number>((resolve, reject) => {
        // fetch would re-encode the path; http.request sends it as written.
        const req = request(`${base}/projects/${id}`, { method: 'DELETE', headers: { 'x-auth-token': token } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end();
      });
      expect(status, id).toBe(404);
    }
  });
});
