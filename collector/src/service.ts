import type { MqttClient } from 'mqtt';
import { createMqttClient, IqrfClient, MeshCatalog, onlineWindowMs, waitForConnection } from '#iqrf';
import { OwnedResources } from '#kit';
import type { Logger } from '#log';
import { openGatewayRegistry, type GatewayRegistry, type RegistryOptions } from '#registry';
import {
  openLiveBus,
  openTimeSeriesStore,
  RedisLiveBus,
  type LiveBus,
  type TelemetryBackendOptions,
  type TimeSeriesStore,
} from '#telemetry';
import { MemoryAnswerLedger } from './answer-ledger.ts';
import { Collector } from './collector.ts';
import { GatewayHeartbeat } from './heartbeat.ts';
import { CollectorMembership } from './membership.ts';
import { RedisAnswerLedger } from './redis-answer-ledger.ts';
import { RedisPollLease } from './redis-poll-lease.ts';
import { RedisStoreFeeder } from './store-feeder.ts';

/** The collector's wiring: `npm run collector` and the all-in-one start both pass one. */
export interface CollectorConfig {
  mqttUrl: string;
  /** 5: persistent session, collector group and shared subscription; 4 (aedes): the only collector. */
  protocolVersion: 4 | 5;
  /** MQTT client id: the persistent session and the name in the collector group. */
  id: string;
  /** Its broker account (username `id`, role `collector`). */
  credentials: { username: string; password: string };
  /** CA certificate of an `mqtts://` broker signed by a private CA. */
  ca?: string | Buffer;
  /** The collectors' shared subscription group. Default `collectors`. */
  group?: string;
  /**
   * The gateways to poll, where readings are written and published: each one absent is opened
   * from `backends` (Redis / Graphite when they name them, else the registry file or memory) and
   * closed with the collector; one given belongs to whoever gave it.
   */
  registry?: GatewayRegistry;
  store?: TimeSeriesStore;
  bus?: LiveBus;
  backends?: TelemetryBackendOptions & RegistryOptions;
  logger: Logger;
  intervalMs?: number;
  iqrfTimeoutMs?: number;
  /** Time between two heartbeats to each gateway (`GatewayHeartbeat`). Default 10 s. */
  heartbeatIntervalMs?: number;
  /**
   * Secret of the signed request msgIds, the same for every collector (and the devices subgraph),
   * so that any of them accepts an answer to another's request. Default: random (one collector).
   */
  msgIdSecret?: string;
  /**
   * Redis of the answer ledger shared by the collectors (replays refused across them and
   * restarts) and of the poll leases. Default `backends.redisUrl`; without either, in memory.
   */
  redisUrl?: string;
  /** How long after its request an FRC answer is still accepted, in ms. Default the IQRF timeout plus 60 s. */
  answerWindowMs?: number;
  /**
   * How long the broker keeps the session of a collector that vanished, in s. While it lives,
   * the dead session keeps its share of the shared subscription (answers to the live collectors'
   * requests are recovered by their requesters; answers to its own wait for it). Default 120.
   */
  sessionExpirySeconds?: number;
}

export interface CollectorService {
  collector: Collector;
  /** With MQTT 5: the group it shares the gateways with. */
  membership?: CollectorMembership;
  /** Its MQTT connection. */
  mqtt: MqttClient;
  /** With a Redis live bus: what writes the store from it. */
  feeder?: RedisStoreFeeder;
  /** Stops polling, leaves the group and ends the session (a graceful stop queues nothing for it). */
  close(): Promise<void>;
}

// Subscription identifiers of the collector's connection: its own requests' answers, and the
// collectors' shared subscription.
const OWN_ANSWERS = 1;
const SHARED_ANSWERS = 2;

/**
 * A collector on its own MQTT connection, listening (not yet polling: call `collector.start()`).
 * Its handlers are attached before the connection opens, so the answers a persistent session
 * kept while the collector was away are not missed.
 */
export async function wireCollector(config: CollectorConfig): Promise<CollectorService> {
  const { id, logger, backends = {} } = config;
  if (config.credentials.username !== id)
    throw new Error(
      `the collector "${id}" must connect as itself, not as "${config.credentials.username}" (its client id is its username)`,
    );
  return OwnedResources.wire(async (owned) => {
    const options = {
      ...config,
      registry: config.registry ?? owned.own(await openGatewayRegistry(backends, logger)),
      store: config.store ?? owned.own(openTimeSeriesStore(backends, logger)),
      bus: config.bus ?? owned.own(openLiveBus(backends, logger)),
      redisUrl: config.redisUrl ?? backends.redisUrl,
    };
    return startCollector(options);
  });
}

/** The collector over its registry, store and bus. */
async function startCollector(
  options: CollectorConfig & Required<Pick<CollectorConfig, 'registry' | 'store' | 'bus'>>,
): Promise<CollectorService> {
  const { id, logger } = options;
  const v5 = options.protocolVersion === 5;
  const mqtt = createMqttClient(options.mqttUrl, {
    clientId: id,
    credentials: options.credentials,
    protocolVersion: options.protocolVersion,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(v5 ? { clean: false, sessionExpirySeconds: options.sessionExpirySeconds ?? 120, will: CollectorMembership.will(id) } : {}),
  });
  mqtt.on('error', (error) => logger.warn({ err: error.message }, 'MQTT error'));
  const iqrf = new IqrfClient(mqtt, {
    logger,
    timeoutMs: options.iqrfTimeoutMs,
    msgIdSecret: options.msgIdSecret,
    ...(v5 ? { subscriptionIdentifier: OWN_ANSWERS } : {}),
  });
  const ledger = options.redisUrl ? new RedisAnswerLedger({ url: options.redisUrl, logger }) : new MemoryAnswerLedger();
  const membership = v5 ? new CollectorMembership(mqtt, id, logger) : undefined;
  const lease = options.redisUrl ? new RedisPollLease({ url: options.redisUrl, logger }) : undefined;
  // With the bus in Redis, the store is fed from it: what the collector accepted is durable there.
  const feeder =
    options.redisUrl && options.bus instanceof RedisLiveBus
      ? new RedisStoreFeeder({ url: options.redisUrl, stream: options.bus.stream, consumer: id, store: options.store, logger })
      : undefined;
  const heartbeat = new GatewayHeartbeat({ iqrf, registry: options.registry, membership, logger, intervalMs: options.heartbeatIntervalMs });
  const collector = new Collector({
    iqrf,
    catalog: new MeshCatalog(iqrf, {
      registry: options.registry,
      offlineAfterMs: onlineWindowMs(options.heartbeatIntervalMs),
      logger,
      ...(options.iqrfTimeoutMs ? { timeoutMs: options.iqrfTimeoutMs } : {}),
    }),
    heartbeat,
    registry: options.registry,
    store: options.store,
    bus: options.bus,
    logger,
    intervalMs: options.intervalMs,
    membership,
    ledger,
    id,
    ...(lease ? { lease } : {}),
    storeFedFromBus: Boolean(feeder),
    answerWindowMs: options.answerWindowMs,
    ...(v5 ? { sharedSubscription: { group: options.group ?? 'collectors', identifier: SHARED_ANSWERS } } : {}),
  });
  try {
    await waitForConnection(mqtt);
    await iqrf.start();
    await membership?.start();
    await collector.listen();
    await feeder?.start();
  } catch (error) {
    mqtt.end(true);
    await ledger.close();
    await lease?.close();
    await feeder?.close();
    throw error;
  }
  return {
    collector,
    membership,
    mqtt,
    ...(feeder ? { feeder } : {}),
    async close() {
      await collector.close();
      await membership?.stop();
      iqrf.close();
      await feeder?.close();
      await ledger.close();
      await lease?.close();
      await mqtt.endAsync(false, v5 ? { properties: { sessionExpiryInterval: 0 } } : {});
    },
  };
}
