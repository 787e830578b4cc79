import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isObject,
  meshChangedTopics,
  parseSensorValue,
  sensorTypes,
  type DaemonResponse,
  type FrcClaims,
  type FrcRequest,
  type IqrfClient,
} from '#iqrf';
import { ThrottledWarnings, type Logger } from '#log';
import type { GatewayRecord, GatewayRegistry, MeshCatalog, SensorInfo } from '#registry';
import type { LiveBus, Reading, TimeSeriesStore } from '#telemetry';
import { MemoryAnswerLedger, type AnswerLedger } from './answer-ledger.ts';
import type { GatewayHeartbeat } from './heartbeat.ts';
import type { CollectorMembership } from './membership.ts';
import { MemoryPollLease, type PollLease } from './poll-lease.ts';

export interface CollectorOptions {
  iqrf: IqrfClient;
  catalog: MeshCatalog;
  registry: GatewayRegistry;
  store: TimeSeriesStore;
  bus: LiveBus;
  logger: Logger;
  /** Time between two polls of a gateway. Default 10 s. */
  intervalMs?: number;
  /** Gateways polled at the same time. Default 32. */
  concurrency?: number;
  /** With several collectors: who polls which gateway. Alone, a collector polls them all. */
  membership?: CollectorMembership;
  /**
   * The gateways' liveness, beating while the collector polls: a gateway whose daemon is silent
   * (or that the catalogue does not ask now: offline, its breaker open) is not polled.
   */
  heartbeat?: GatewayHeartbeat;
  /**
   * MQTT 5 shared subscription of the collectors (`$share/<group>/...`) and its subscription
   * identifier: each FRC answer is then turned into readings by exactly one collector, whichever
   * sent the request, also when it arrives after a restart from the persistent session.
   */
  sharedSubscription?: { group: string; identifier: number };
  /**
   * The msgIds of answers already turned into readings, so that a replay is refused. Default: in
   * memory (one process); with several collectors, or across restarts, `RedisAnswerLedger`.
   */
  ledger?: AnswerLedger;
  /**
   * The fence between collectors: a gateway is polled in a round only under its lease, so no two
   * collectors poll it for the same round (`RedisPollLease` with several). Default none (alone).
   */
  lease?: PollLease;
  /** Name of this collector as lease holder. Default the membership's id, or `collector`. */
  id?: string;
  /**
   * The store is fed from the live bus by someone else (`RedisStoreFeeder`): the collector only
   * publishes. Default false: it writes the store itself after publishing.
   */
  storeFedFromBus?: boolean;
  /**
   * How long after its request an FRC answer is still accepted, in ms. Default the IQRF client's
   * request timeout plus 60 s (an answer kept by a persistent session while a collector restarts).
   */
  answerWindowMs?: number;
  /** At most one warning line per kind in this time (refused answers, invalid entries). Default 30 s. */
  warningIntervalMs?: number;
  now?: () => number;
}

/** FRC answers dropped whole, by reason. */
export interface RejectedAnswers {
  /** The msgId is not one the platform issued for this gateway and `iqrfSensor_Frc`. */
  unsolicited: number;
  /** Its request is older than `answerWindowMs`. */
  expired: number;
  /** Already turned into readings (by this collector or another one sharing the ledger). */
  replayed: number;
  /** A sensor type or index other than asked, or a value of a node that has no such sensor. */
  mismatched: number;
  /** More entries than nodes asked, or a payload over the IQRF client's byte limit. */
  oversized: number;
}

export interface CollectorStats {
  /** Poll rounds started. */
  rounds: number;
  /** FRC requests sent. */
  polls: number;
  /** Gateways not polled in a round: silent to the heartbeat, offline, or their breaker open. */
  skippedGateways: number;
  /**
   * Readings accepted: published on the live bus (with `storeFedFromBus`, which is durable and
   * feeds the store; otherwise also written to the store).
   */
  readings: number;
  /**
   * Answers to this collector's own requests that it turned into readings itself because no
   * collector of the shared subscription had done so (their copy went to a dead session).
   */
  recoveredAnswers: number;
  /** Gateways not polled in a round because another collector holds their lease. */
  fencedGateways: number;
  /** Entries the daemon gave as `null` (the node gave nothing). */
  skippedNulls: number;
  /** Entries that were not a sensor value of a known sensor. */
  invalidEntries: number;
  /** Payloads on response topics that were not daemon responses at all. */
  malformedPayloads: number;
  /** Requests that failed (timeout, error status, broker down). */
  failedRequests: number;
  /** Store or bus calls that failed and were retried. */
  deliveryRetries: number;
  /** FRC answers dropped whole: nothing of them reached the store or the bus. */
  rejectedAnswers: RejectedAnswers;
}

const MAX_RETRY_DELAY_MS = 5_000;
/** The nodes of an FRC sent to every node: its answer is indexed by address. */
const ALL_ADDRESSES = Array.from({ length: 240 }, (_, address) => address);
/** Share of the poll interval a round's polls are spread over. */
const SPREAD = 0.8;
/** How long stopping waits for deliveries to a store or bus that refuses or stalls them. */
const CLOSE_GRACE_MS = 10_000;
/** How long a claim on an answer (the ledger's `firstUse`) holds before another copy may try. */
const CLAIM_MS = 30_000;
/** How long the requester of an answer leaves it to the shared subscription before it checks. */
const HANDOFF_MS = 3_000;

/**
 * The MQTT bridge of the platform: polls the sensors of the gateways it owns through their IQRF
 * daemons (one `iqrfSensor_Frc` per sensor type and index, for the nodes having it), turns every
 * FRC answer it receives into readings, and hands them to the time-series store and the live
 * bus, retrying until both accepted them. Malformed answers are logged and counted.
 */
export class Collector {
  private readonly counters = {
    rounds: 0,
    polls: 0,
    skippedGateways: 0,
    fencedGateways: 0,
    readings: 0,
    recoveredAnswers: 0,
    skippedNulls: 0,
    invalidEntries: 0,
    failedRequests: 0,
    deliveryRetries: 0,
  };
  private readonly rejected: RejectedAnswers = { unsolicited: 0, expired: 0, replayed: 0, mismatched: 0, oversized: 0 };
  private readonly ledger: AnswerLedger;
  private readonly answerWindowMs: number;
  private readonly warnings: ThrottledWarnings;
  private readonly processing = new Map<string, Promise<void>>();
  /** Own answers left to the shared subscription for a moment (`HANDOFF_MS`), then checked. */
  private readonly recoveries = new Set<Promise<void>>();
  private readonly lease: PollLease;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Aborts the requests of the rounds `start` runs: stopping does not wait out their timeouts. */
  private rounds = new AbortController();
  private stopped = true;
  private readonly stopResponses: () => void;
  private subscribed = false;
  private closingSince: number | undefined;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: CollectorOptions) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.ledger = options.ledger ?? new MemoryAnswerLedger();
    this.lease = options.lease ?? new MemoryPollLease();
    this.answerWindowMs = options.answerWindowMs ?? options.iqrf.requestTimeoutMs + 60_000;
    this.warnings = new ThrottledWarnings(options.logger, { intervalMs: options.warningIntervalMs });
    // Handle answers from the start: those kept by a persistent session arrive right after connecting.
    this.stopResponses = options.iqrf.onResponse((gatewayId, response, identifiers) => this.onResponse(gatewayId, response, identifiers));
    options.iqrf.mqttClient.on('message', this.onMeshChanged);
  }

  private readonly onMeshChanged = (topic: string) => {
    const gatewayId = meshChangedTopics.gatewayOf(topic);
    if (gatewayId) this.options.catalog.invalidate(gatewayId);
  };

  private onResponse(gatewayId: string, response: DaemonResponse, identifiers: readonly number[]): void {
    const arrivedAt = this.now();
    const shared = this.options.sharedSubscription;
    if (response.mType !== 'iqrfSensor_Frc') return;
    if (shared && !identifiers.includes(shared.identifier)) return;
    this.accept(gatewayId, response, arrivedAt, false);
  }

  /**
   * Checks an FRC answer's msgId and turns it into readings; `recovering`: the requester's own
   * copy, taken because no collector of the shared subscription did (the bus keeps it once).
   */
  private accept(gatewayId: string, response: DaemonResponse, arrivedAt: number, recovering: boolean): void {
    const msgId = response.data.msgId;
    // Only answers to requests the platform sent to this gateway, and recently: the msgId says so.
    const verdict = this.options.iqrf.msgIds.verify(gatewayId, 'iqrfSensor_Frc', msgId, Date.now(), this.answerWindowMs);
    if (!verdict.ok) return this.reject(verdict.reason, gatewayId, verdict.detail);
    if (!verdict.claims.frc) return this.reject('unsolicited', gatewayId, 'msgId carries no FRC claims');
    const processed = this.processFrc(
      gatewayId,
      msgId,
      response,
      verdict.claims.frc,
      this.readingTime(verdict.claims.issuedAt, arrivedAt),
      recovering,
    ).catch((error: unknown) => {
      this.counters.invalidEntries++;
      this.warnings.warn('frc-failed', 'FRC answer could not be turned into readings', { gatewayId, err: (error as Error).message });
    });
    // A copy (a QoS 1 redelivery, a replay) takes the slot but still waits for the first one, which
    // may be the one that delivers; only the entry's own promise clears it.
    const previous = this.processing.get(msgId);
    const done = previous ? Promise.all([previous, processed]).then(() => undefined) : processed;
    this.processing.set(msgId, done);
    void done.finally(() => this.processing.get(msgId) === done && this.processing.delete(msgId));
  }

  /**
   * When the gateway answered: the answer's arrival here, but not before its request (another
   * collector's clock) and not after the request plus an answer slot. An answer held by the
   * broker or a backlog (a restart, an outage) arrives late and all at once; the slot keeps it
   * near when it was given, and the readings of two polls of a gateway at least a second apart:
   * polls are `intervalMs / 2` apart at least (the lease), the slot is a second less than that.
   */
  readingTime(issuedAt: number, arrivedAt: number): number {
    const slot = Math.max(0, Math.min(this.options.iqrf.requestTimeoutMs, this.intervalMs / 2 - 1_000));
    return Math.min(Math.max(arrivedAt, issuedAt), issuedAt + slot);
  }

  private reject(reason: keyof RejectedAnswers, gatewayId: string, detail: string): void {
    this.rejected[reason]++;
    this.warnings.warn(`rejected-${reason}`, 'FRC answer dropped', { reason, gatewayId, detail });
  }

  get stats(): CollectorStats {
    const rejectedAnswers = { ...this.rejected, oversized: this.rejected.oversized + this.options.iqrf.stats.oversized };
    return { ...this.counters, malformedPayloads: this.options.iqrf.stats.malformed, rejectedAnswers };
  }

  /** Joins the collectors' shared subscription, if any; answers are handled from construction on. */
  async listen(): Promise<void> {
    if (this.subscribed) return;
    this.subscribed = true;
    await this.options.iqrf.mqttClient.subscribeAsync(meshChangedTopics.filter, { qos: 1 });
    if (!this.options.sharedSubscription) return;
    // Again after every reconnection: Mosquitto 2.0 restores sessions without their shared subscriptions.
    this.options.iqrf.mqttClient.on('connect', this.joinSharedSubscription);
    await this.joinSharedSubscription();
  }

  private readonly joinSharedSubscription = async (): Promise<void> => {
    const shared = this.options.sharedSubscription!;
    const filter = `$share/${shared.group}/${this.options.iqrf.responseTopicFilter}`;
    const mqtt = this.options.iqrf.mqttClient;
    try {
      // A shared subscription Mosquitto 2.0 restored from its persistence after a restart delivers
      // nothing, and subscribing over it changes nothing: drop it and subscribe anew.
      if (this.joinedOnce) await mqtt.unsubscribeAsync(filter);
      await mqtt.subscribeAsync(filter, { qos: 1, properties: { subscriptionIdentifier: shared.identifier } });
      this.joinedOnce = true;
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message, filter }, 'cannot join the collectors shared subscription');
    }
  };
  private joinedOnce = false;

  /** Listens, then starts a round every `intervalMs` (a round that overruns delays the next one). */
  async start(): Promise<void> {
    await this.listen();
    this.stopped = false;
    this.options.heartbeat?.start();
    this.rounds = new AbortController();
    const { signal } = this.rounds;
    // Every request in flight listens to it: up to `concurrency` gateways times their sensor groups.
    setMaxListeners(Infinity, signal);
    const tick = () => {
      const roundStart = Date.now();
      // Gateways are polled one after the other across the interval, not all at its start: the
      // readings (and the work of every live subscription) then arrive evenly, not in bursts.
      this.running = this.pollAll({ spreadOverMs: this.intervalMs * SPREAD, signal, fenced: true })
        // A round that cannot start (the registry's Redis away) is the next round's to try, not a crash.
        .catch((error: Error) =>
          this.warnings.warn('round-failed', 'poll round failed; trying again next interval', { err: error.message }),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, Math.max(0, roundStart + this.intervalMs - Date.now()));
        });
    };
    tick();
  }

  /**
   * Stops polling and waits for the answers being processed; answers still arriving are handled.
   * Requests of the current round are not waited for: a gateway that does not answer would hold
   * the stop for the whole IQRF timeout.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.rounds.abort();
    this.options.heartbeat?.stop();
    await this.running;
    // Answers being delivered may wait on a store or bus that is down: wait a bounded time.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([Promise.all([...this.recoveries, ...this.processing.values()]), grace]);
    clearTimeout(timer);
    if (this.processing.size)
      this.options.logger.error({ answers: this.processing.size }, 'stopped with answers not yet delivered to the store and bus');
  }

  /** Stops handling answers for good (the process is going away). */
  async close(): Promise<void> {
    this.closingSince = Date.now();
    await this.stop();
    this.stopResponses();
    this.warnings.flush();
    this.options.iqrf.mqttClient.off('connect', this.joinSharedSubscription);
    this.options.iqrf.mqttClient.off('message', this.onMeshChanged);
  }

  /**
   * One round over the active gateways this collector owns, at once or spread over
   * `spreadOverMs`; resolves when their readings are delivered.
   */
  async pollAll(options: { spreadOverMs?: number; signal?: AbortSignal; fenced?: boolean } = {}): Promise<void> {
    this.counters.rounds++;
    const { membership } = this.options;
    const gateways = (await this.options.registry.list()).filter(
      (g) => g.status !== 'DECOMMISSIONED' && (!membership || membership.owns(g.id)),
    );
    const started = Date.now();
    const slot = (options.spreadOverMs ?? 0) / Math.max(1, gateways.length);
    const queue = gateways.map((gateway, i) => ({ gateway, at: started + i * slot }));
    const workers = Array.from({ length: Math.min(this.options.concurrency ?? 32, queue.length) }, async () => {
      for (let next = queue.shift(); next && !this.stoppedDuring(options); next = queue.shift()) {
        const wait = next.at - Date.now();
        if (wait > 0) await sleep(wait, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
        if (options.signal?.aborted) break;
        if (options.fenced && !(await this.leaseFor(next.gateway.id))) continue;
        await this.pollGateway(next.gateway, options.signal);
      }
    });
    await Promise.all(workers);
  }

  /** Takes the gateway's lease for this round (half an interval); false: another collector has it, or no lease now. */
  private async leaseFor(gatewayId: string): Promise<boolean> {
    try {
      if (await this.lease.acquire(gatewayId, this.options.id ?? this.options.membership?.id ?? 'collector', this.intervalMs / 2))
        return true;
      this.counters.fencedGateways++;
    } catch (error) {
      this.counters.skippedGateways++;
      this.warnings.warn('lease-failed', "cannot take a gateway's poll lease; not polled this round", {
        gatewayId,
        err: (error as Error).message,
      });
    }
    return false;
  }

  // A spread round stops early when the collector stops; an immediate one always finishes.
  private stoppedDuring(options: { spreadOverMs?: number }): boolean {
    return Boolean(options.spreadOverMs) && this.stopped;
  }

  /** Reads every sensor of one gateway once; failures are logged and counted, never thrown. */
  async pollGateway(gateway: GatewayRecord, signal?: AbortSignal): Promise<void> {
    if (this.options.heartbeat?.isSilent(gateway.id) || !this.options.catalog.reachable(gateway.id)) {
      this.counters.skippedGateways++;
      return;
    }
    let sensors: SensorInfo[];
    try {
      sensors = await abortable(this.options.catalog.sensorsOf(gateway), signal);
    } catch (error) {
      if (signal?.aborted) return;
      this.counters.failedRequests++;
      this.options.logger.warn({ gatewayId: gateway.id, err: (error as Error).message }, 'cannot enumerate sensors');
      return;
    }
    const groups = new Map<string, SensorInfo[]>();
    for (const sensor of sensors) {
      const key = `${sensor.type}:${sensor.typeIndex}`;
      groups.set(key, [...(groups.get(key) ?? []), sensor]);
    }
    await Promise.all([...groups.values()].map((group) => this.requestGroup(gateway, group, signal)));
  }

  private async requestGroup(gateway: GatewayRecord, group: SensorInfo[], signal?: AbortSignal): Promise<void> {
    const { type, typeIndex } = group[0]!;
    const request: FrcRequest = {
      nAdr: 0,
      param: {
        sensorType: type,
        sensorIndex: typeIndex,
        frcCommand: sensorTypes.get(type)?.frcCommand ?? 224,
        selectedNodes: group.map((s) => s.address).sort((a, b) => a - b),
      },
    };
    this.counters.polls++;
    try {
      const data = await abortable(this.options.iqrf.request(gateway.id, 'iqrfSensor_Frc', request), signal);
      const arrivedAt = this.now();
      // The answer is turned into readings by whichever collector got it; wait if that is us.
      const local = this.processing.get(data.msgId);
      if (local) await local;
      else if (this.options.sharedSubscription) this.recoverLater(gateway.id, { mType: 'iqrfSensor_Frc', data }, arrivedAt);
    } catch (error) {
      if (signal?.aborted) return;
      this.counters.failedRequests++;
      this.options.logger.warn({ gatewayId: gateway.id, sensorType: type, err: (error as Error).message }, 'FRC failed');
    }
  }

  /**
   * The shared subscription may hand the answer to a collector that is gone (its session lives on
   * at the broker and keeps its share): after `HANDOFF_MS`, unless a collector recorded the answer
   * done, the requester turns its own copy into readings; the bus keeps them once either way.
   */
  private recoverLater(gatewayId: string, response: DaemonResponse, arrivedAt: number): void {
    const msgId = response.data.msgId;
    const task = (async () => {
      await sleep(HANDOFF_MS);
      if (this.processing.has(msgId) || (await this.ledger.isDone(msgId))) return;
      this.accept(gatewayId, response, arrivedAt, true);
      await this.processing.get(msgId);
    })().catch((error: unknown) =>
      this.warnings.warn('recovery-failed', 'own FRC answer could not be checked', { gatewayId, err: (error as Error).message }),
    );
    this.recoveries.add(task);
    void task.finally(() => this.recoveries.delete(task));
  }

  /**
   * Turns one FRC answer into readings, from what its msgId says was asked: entry i is the value
   * of the i-th node asked (of node i when every node was). The answer is dropped whole when it has
   * more entries than that, another sensor type or index, or a value of a node that has no such
   * sensor; and when it was already turned into readings.
   */
  private async processFrc(
    gatewayId: string,
    msgId: string,
    response: DaemonResponse,
    asked: FrcClaims,
    time: number,
    recovering: boolean,
  ): Promise<void> {
    if (response.data.status !== 0) return; // the requester reports the daemon's error
    const rsp = response.data.rsp;
    const result = isObject(rsp) && isObject(rsp.result) ? rsp.result : undefined;
    if (!result || !Array.isArray(result.sensors) || typeof result.sensorIndex !== 'number') {
      this.counters.invalidEntries++;
      this.warnings.warn('frc-without-result', 'FRC answer without result.sensors and result.sensorIndex ignored', { gatewayId });
      return;
    }
    const entries: unknown[] = result.sensors;
    const nodes = asked.nodes ?? ALL_ADDRESSES;
    if (entries.length > nodes.length)
      return this.reject('oversized', gatewayId, `${entries.length} entries for ${nodes.length} nodes asked`);
    if (result.sensorIndex !== asked.sensorIndex)
      return this.reject('mismatched', gatewayId, `sensor index ${result.sensorIndex}, ${asked.sensorIndex} asked`);
    const [gateway] = await this.options.registry.getMany([gatewayId]);
    if (!gateway) {
      this.warnings.warn('unregistered-gateway', 'FRC answer from an unregistered gateway ignored', { gatewayId });
      return;
    }
    const sensors = new Map<number, SensorInfo>();
    for (const sensor of await this.options.catalog.sensorsOf(gateway)) {
      if (sensor.type === asked.sensorType && sensor.typeIndex === asked.sensorIndex) sensors.set(sensor.address, sensor);
    }
    const readings: Reading[] = [];
    let invalid = 0;
    let nulls = 0;
    for (const [i, entry] of entries.entries()) {
      const parsed = parseSensorValue(entry, `result.sensors[${i}]`);
      if (!parsed.ok) {
        invalid++;
        continue;
      }
      if (parsed.value === null || parsed.value.value === null) {
        nulls++;
        continue;
      }
      const address = nodes[i]!;
      if (parsed.value.type !== asked.sensorType)
        return this.reject('mismatched', gatewayId, `sensor type ${parsed.value.type} of node ${address}, ${asked.sensorType} asked`);
      const sensor = sensors.get(address);
      if (!sensor)
        return this.reject(
          'mismatched',
          gatewayId,
          `node ${address} has no sensor of type ${asked.sensorType} and index ${asked.sensorIndex}`,
        );
      readings.push({
        sensorId: sensor.id,
        gatewayId,
        tenant: gateway.tenant,
        quantity: sensor.quantity,
        ...(sensor.room ? { room: sensor.room } : {}),
        time,
        value: parsed.value.value,
        answerId: msgId,
      });
    }
    // Last, so that a forged answer refused above cannot spend the msgId of the genuine one. Only a
    // claim: it is recorded done once the readings are on the bus, which is what decides (it keeps
    // an answer's readings once), so a collector killed in between loses nothing.
    if (!recovering && !(await this.retry('answer ledger', () => this.ledger.firstUse(msgId, CLAIM_MS)))) {
      return this.reject('replayed', gatewayId, 'answer already turned into readings');
    }
    const appended = readings.length ? await this.deliver(readings) : true;
    await this.retry('answer ledger', () => this.ledger.done(msgId, this.answerWindowMs + 60_000));
    if (!appended) {
      if (!recovering) this.reject('replayed', gatewayId, 'answer already on the live bus');
      return;
    }
    if (recovering) this.counters.recoveredAnswers++;
    this.counters.skippedNulls += nulls;
    this.counters.invalidEntries += invalid;
    if (invalid) this.warnings.warn('invalid-entries', 'invalid FRC sensor entries ignored', { gatewayId }, invalid);
  }

  /**
   * The bus first (retried with backoff until it accepts), so a slow or stalled store never holds
   * the live stream back; then the store, unless it is fed from the bus (`storeFedFromBus`).
   * False when the bus already had these answers (nothing published, nothing written).
   */
  private async deliver(readings: Reading[]): Promise<boolean> {
    const appended = await this.retry('bus', () => this.options.bus.publish(readings));
    if (!appended) return false;
    this.counters.readings += readings.length;
    if (!this.options.storeFedFromBus) await this.retry('store', () => this.options.store.write(readings));
    return true;
  }

  private async retry<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (let delay = 100; ; delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)) {
      try {
        return await attempt();
      } catch (error) {
        if (this.closingSince !== undefined && Date.now() - this.closingSince > CLOSE_GRACE_MS) {
          this.options.logger.error(
            { err: (error as Error).message },
            `${what} still refuses readings after ${CLOSE_GRACE_MS} ms of closing; giving up on them`,
          );
          throw error;
        }
        this.counters.deliveryRetries++;
        this.options.logger.warn({ err: (error as Error).message, retryInMs: delay }, `${what} refused readings; retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/**
 * `promise`, or a rejection as soon as `signal` aborts (the work itself goes on: an IQRF request
 * still ends at its answer or timeout, or when its client closes).
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
