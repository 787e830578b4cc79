import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { silentLogger } from '#log';
import { RedisLiveBus } from '#telemetry';
import type { Platform } from '../../platform/platform.ts';
import { composeSupergraph } from '#supergraph';
import { adminToken } from '../support/auth.ts';
import { eventually } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { freePort, spawnServer, stopProcess, tempDir, waitForPort } from '../support/services/process.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';
import { streamCursors } from '../support/stream.ts';

const GATEWAY = 'austin-gw01';
const resumable = /* GraphQL */ `
  subscription Live($gatewayId: ID!, $after: String) {
    readings(gatewayId: $gatewayId, after: $after) {
      cursor
    }
  }
`;
const repo = new URL('../..', import.meta.url).pathname;

/**
 * A stock graphql-ws client that keeps its last cursor in `variables.after`. Default retry wait;
 * more attempts than the default 5, so that a process restart on this slow machine fits; and
 * `shouldRetry` for socket errors too: the default retries close events only, while a killed
 * process gives an error event (ECONNRESET, then ECONNREFUSED while it is down).
 */
function follower(url: string, token: string) {
  const client: Client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 30,
    shouldRetry: () => true,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  const payload = { query: resumable, variables: { gatewayId: GATEWAY, after: null as string | null } };
  const received: string[] = [];
  const errors: unknown[] = [];
  client.subscribe<{ readings: { cursor: string } }>(payload, {
    next: (result) => {
      if (result.errors) return void errors.push(result.errors);
      received.push(result.data!.readings.cursor);
      payload.variables.after = result.data!.readings.cursor;
    },
    error: (error) =>
      void errors.push(
        error instanceof Error
          ? error.message
          : { code: (error as { code?: unknown }).code, reason: String((error as { reason?: unknown }).reason ?? error) },
      ),
    complete: () => {},
  });
  return { client, received, errors };
}

describe('a client that resumes with its last cursor loses nothing when a process dies', () => {
  let redis: RedisService;
  let platform: Platform;
  let bus: RedisLiveBus;
  let token: string;
  let supergraphFile: string;
  const routerPort = { value: 0 };
  let router: ReturnType<typeof spawnServer> | undefined;
  const telemetryPort = { value: 0 };
  let telemetry: ReturnType<typeof spawnServer> | undefined;

  // The telemetry subgraph as a process of its own, on the platform's Redis (bus, registry).
  const startTelemetryProcess = async () => {
    telemetry = spawnServer(process.execPath, ['--import', 'tsx', 'subgraphs/telemetry/src/main.ts'], {
      cwd: repo,
      env: {
        PORT: String(telemetryPort.value),
        HOST: '127.0.0.1',
        REDIS_URL: redis.url,
        SUBGRAPH_SECRET: platform.subgraphSecret,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
      },
    });
    await waitForPort(telemetryPort.value, 60_000);
  };

  const startRouterProcess = async () => {
    router = spawnServer(process.execPath, ['--import', 'tsx', 'router/src/main.ts'], {
      cwd: repo,
      env: {
        SUPERGRAPH: supergraphFile,
        PORT: String(routerPort.value),
        HOST: '127.0.0.1',
        SUBGRAPH_SECRET: platform.subgraphSecret,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
      },
    });
    await waitForPort(routerPort.value, 60_000);
  };

  beforeAll(async () => {
    token = await adminToken();
    redis = await startRedis();
    platform = await startTestPlatform({ backends: { redisUrl: redis.url }, pollIntervalMs: 200 });
    bus = new RedisLiveBus({ url: redis.url, logger: silentLogger });
    telemetryPort.value = await freePort();
    await startTelemetryProcess();
    supergraphFile = join(await tempDir('supergraph'), 'supergraph.graphql');
    const urls = Object.fromEntries(Object.entries(platform.subgraphs).map(([name, s]) => [name, s.url])) as Parameters<
      typeof composeSupergraph
    >[0];
    await writeFile(supergraphFile, await composeSupergraph({ ...urls, telemetry: `http://127.0.0.1:${telemetryPort.value}/graphql` }));
    routerPort.value = await freePort();
    await startRouterProcess();
  }, 90_000);

  afterAll(async () => {
    if (router) await stopProcess(router);
    if (telemetry) await stopProcess(telemetry);
    await bus?.close();
    await platform?.close();
    await redis?.stop();
  });

  /** Followers through the router; `fault` kills a part and brings it back; then every follower must have the stream's readings from its first, once. */
  async function followThrough(fault: () => Promise<void>): Promise<void> {
    const url = `http://127.0.0.1:${routerPort.value}/graphql`;
    // Four followers of the same gateway: live, they share one execution, and they resume from the same cursor.
    const followers = Array.from({ length: 4 }, () => follower(url, token));
    try {
      await eventually(async () => followers.every((f) => f.received.length >= 5), 30_000);
      const atFault = Math.max(...followers.map((f) => f.received.length));
      await fault();
      await eventually(async () => followers.every((f) => f.received.length >= atFault + 30), 60_000, 200).catch((error: unknown) => {
        throw new Error(
          `${String(error)}; received ${followers.map((f) => f.received.length).join(', ')} (${atFault} at the fault); errors ${JSON.stringify(followers.map((f) => f.errors))}; router: ${router?.output().slice(-1500)}`,
        );
      });
    } finally {
      await Promise.all(followers.map((f) => f.client.dispose()));
    }
    const stream = await streamCursors(bus, GATEWAY);
    for (const [i, f] of followers.entries()) {
      expect(f.errors, `follower ${i}`).toEqual([]);
      const start = stream.indexOf(f.received[0]!);
      expect(start).toBeGreaterThanOrEqual(0);
      const expected = stream.slice(start, start + f.received.length);
      const missing = expected.filter((c) => !f.received.includes(c)).length;
      console.log(
        `follower ${i}: ${f.received.length} received, ${missing} of the stream missing, ${f.received.length - new Set(f.received).size} twice`,
      );
      expect(f.received, `follower ${i}`).toEqual(expected);
    }
  }

  it('router killed with SIGKILL mid-stream and restarted: every reading after the first, once', async () => {
    await followThrough(async () => {
      const exited = new Promise((resolve) => router!.once('exit', resolve));
      router!.kill('SIGKILL');
      await exited;
      await startRouterProcess();
    });
  }, 120_000);

  it('telemetry subgraph killed with SIGKILL mid-stream and restarted: every reading after the first, once', async () => {
    await followThrough(async () => {
      const exited = new Promise((resolve) => telemetry!.once('exit', resolve));
      telemetry!.kill('SIGKILL');
      await exited;
      await startTelemetryProcess();
    });
  }, 120_000);
});
