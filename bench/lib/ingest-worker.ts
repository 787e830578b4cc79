/**
 * Child process of `bench/ingest.ts`: runs one ingest variant for a fixed time, alone in its
 * process so that its CPU time and event loop are its own, and reports an `IngestRun`.
 *
 *  - `collector-real`:   `Collector` -> `GraphiteTimeSeriesStore` + `RedisLiveBus` (+ Redis registry),
 *                        opened by the packages' defaults as `npm start` opens them.
 *  - `collector-memory`: the same collector -> `MemoryTimeSeriesStore` + `MemoryLiveBus`.
 *  - `relay`:            `PlainRelay`, MQTT answers straight to carbon plaintext.
 *
 * The broker is locked: the collector and the relay connect with the collector-role account in the
 * config (client id = username); the collector's requests carry msgIds signed with `msgIdSecret`,
 * and it accepts only answers whose msgId it can verify. `collector-real` keeps its answer ledger
 * in Redis, as `npm start` does with Redis; `collector-memory` in memory.
 *
 * Forked with IPC; the parent sends `{ config: IngestWorkerConfig }` (it holds a password, so not
 * as an argument). Sends `{ phase: 'start' }`
 * and `{ phase: 'end' }` around the measured window (the parent samples the simulator's and the
 * machine's CPU then), and finally `{ result: IngestRun }`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connectMqtt, IqrfClient, MeshCatalog } from '#iqrf';
import { silentLogger } from '#log';
import { openGatewayRegistry, type GatewayRecord } from '#registry';
import { buildScenario, scenarioRegistry } from '#simulator';
import {
  GraphiteTimeSeriesStore,
  openLiveBus,
  openTimeSeriesStore,
  type Reading,
  type SeriesKey,
  type SeriesQuery,
  type TimeSeriesStore,
} from '#telemetry';
import type { MqttCredentials } from '#broker';
import { MemoryAnswerLedger } from '../../collector/src/answer-ledger.ts';
import { Collector } from '../../collector/src/collector.ts';
import { RedisAnswerLedger } from '../../collector/src/redis-answer-ledger.ts';
import { frcGroups, PlainRelay } from './ingest-relay.ts';

export type IngestVariant = 'collector-real' | 'collector-memory' | 'relay';

export interface IngestWorkerConfig {
  variant: IngestVariant;
  seconds: number;
  gateways: number;
  concurrency: number;
  mqttUrl: string;
  /** A `collector` account of the broker: the client id is its username. */
  credentials: MqttCredentials;
  /** Secret of the collector's signed msgIds (`MsgId`). */
  msgIdSecret: string;
  redisUrl: string;
  graphiteUrl: string;
  carbonUrl: string;
  /** Metric prefix of the relay. */
  relayPrefix: string;
}

export interface IngestRun {
  variant: IngestVariant;
  /** Wall time of the measured window, ms. */
  windowMs: number;
  /** Readings accepted (collector: written to the store and published on the bus) within the window. */
  readings: number;
  /** The same after polling stopped and the answers in flight were handled. */
  readingsTotal: number;
  /** FRC requests sent within the window. */
  polls: number;
  failedRequests: number;
  invalidEntries: number;
  /** Distinct (metric, second) slots written: what Graphite, with one-second slots, can show at most. */
  slots: number;
  /** CPU time (user + system) of this process within the window, ms. */
  cpuMs: number;
  eventLoopDelayP99Ms: number;
  rssMb: number;
  /** Time from stopping polling to everything handed over (store closed: carbon took every point), ms. */
  drainMs: number;
  /** Points carbon's socket accepted (Graphite store), counted by the store itself. */
  carbonWritten?: number;
}

/** Counts distinct (series, second) slots of what passes through; everything else is the store's. */
class SlotCountingStore implements TimeSeriesStore {
  slots = 0;
  private readonly lastSecond = new Map<string, number>();

  constructor(readonly inner: TimeSeriesStore) {}

  write(readings: readonly Reading[]): Promise<void> {
    for (const reading of readings) {
      const second = Math.floor(reading.time / 1000);
      if (this.lastSecond.get(reading.sensorId) !== second) {
        this.lastSecond.set(reading.sensorId, second);
        this.slots++;
      }
    }
    return this.inner.write(readings);
  }

  query(query: SeriesQuery) {
    return this.inner.query(query);
  }

  latest(series: readonly SeriesKey[]) {
    return this.inner.latest(series);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `load` between the two phase messages and measures this process meanwhile. */
async function measure(seconds: number, start: () => Promise<void>, snapshot: () => { readings: number; polls: number }) {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  process.send!({ phase: 'start' });
  const cpu = process.cpuUsage();
  const began = performance.now();
  loop.enable();
  await start();
  await sleep(seconds * 1000);
  const at = snapshot();
  const used = process.cpuUsage(cpu);
  const windowMs = performance.now() - began;
  loop.disable();
  process.send!({ phase: 'end' });
  return {
    ...at,
    windowMs,
    cpuMs: (used.user + used.system) / 1000,
    eventLoopDelayP99Ms: loop.percentile(99) / 1e6,
    rssMb: process.memoryUsage().rss / 2 ** 20,
  };
}

async function runCollector(config: IngestWorkerConfig): Promise<IngestRun> {
  const real = config.variant === 'collector-real';
  const options = real ? { redisUrl: config.redisUrl, graphiteUrl: config.graphiteUrl, carbonUrl: config.carbonUrl } : {};
  const backends = {
    registry: await openGatewayRegistry(options, silentLogger),
    store: openTimeSeriesStore(options, silentLogger),
    bus: openLiveBus(options, silentLogger),
  };
  const scenario = buildScenario('pisek');
  if ((await backends.registry.list()).length === 0) {
    for (const record of scenarioRegistry(scenario, new Date()).slice(0, config.gateways)) await backends.registry.add(record);
  }
  const gateways: GatewayRecord[] = await backends.registry.list();
  const mqtt = await connectMqtt(config.mqttUrl, { credentials: config.credentials, protocolVersion: 5 });
  const iqrf = new IqrfClient(mqtt, { logger: silentLogger, msgIdSecret: config.msgIdSecret });
  await iqrf.start();
  // Enumerate every mesh before measuring (the collector would do it in its first round), and keep it.
  const catalog = new MeshCatalog(iqrf, { ttlMs: 3_600_000 });
  for (let i = 0; i < gateways.length; i += 20) await Promise.all(gateways.slice(i, i + 20).map((gateway) => catalog.mesh(gateway)));

  const store = new SlotCountingStore(backends.store);
  const ledger = real ? new RedisAnswerLedger({ url: config.redisUrl, logger: silentLogger }) : new MemoryAnswerLedger();
  const collector = new Collector({
    iqrf,
    catalog,
    registry: backends.registry,
    store,
    bus: backends.bus,
    ledger,
    logger: silentLogger,
    intervalMs: 1,
    concurrency: config.concurrency,
  });
  const measured = await measure(
    config.seconds,
    () => collector.start(),
    () => ({ readings: collector.stats.readings, polls: collector.stats.polls }),
  );
  const stopping = performance.now();
  await collector.close();
  await Promise.all([backends.store.close(), backends.bus.close(), backends.registry.close()]);
  await ledger.close();
  const stats = collector.stats;
  iqrf.close();
  await mqtt.endAsync();
  return {
    variant: config.variant,
    ...measured,
    readingsTotal: stats.readings,
    failedRequests: stats.failedRequests,
    invalidEntries: stats.invalidEntries,
    slots: store.slots,
    drainMs: performance.now() - stopping,
    ...(backends.store instanceof GraphiteTimeSeriesStore ? { carbonWritten: backends.store.stats.written } : {}),
  };
}

async function runRelay(config: IngestWorkerConfig): Promise<IngestRun> {
  const scenario = buildScenario('pisek');
  const ids = new Set(scenario.gateways.slice(0, config.gateways).map((gateway) => gateway.id));
  const relay = new PlainRelay({
    mqttUrl: config.mqttUrl,
    credentials: config.credentials,
    carbonUrl: config.carbonUrl,
    gateways: frcGroups(scenario, ids),
    concurrency: config.concurrency,
    prefix: config.relayPrefix,
  });
  const measured = await measure(
    config.seconds,
    () => relay.start(),
    () => ({ readings: relay.stats.readings, polls: relay.stats.polls }),
  );
  const stopping = performance.now();
  await relay.stop();
  return {
    variant: 'relay',
    ...measured,
    readingsTotal: relay.stats.readings,
    failedRequests: relay.stats.timeouts,
    invalidEntries: 0,
    slots: relay.stats.slots,
    drainMs: performance.now() - stopping,
  };
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('usage: fork(ingest-worker.ts) with an IPC channel, then send { config }');
  const config = await new Promise<IngestWorkerConfig>((resolve) =>
    process.once('message', (message) => resolve((message as { config: IngestWorkerConfig }).config)),
  );
  const result = config.variant === 'relay' ? await runRelay(config) : await runCollector(config);
  process.send({ result }, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
