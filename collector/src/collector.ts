import { MType, type DaemonAnswer, type DaemonResponse, type FrcClaims, type IqrfClient, type MeshCatalog } from '#iqrf';
import { ThrottledWarnings, type Logger } from '#log';
import type { GatewayRegistry } from '#registry';
import type { LiveBus, TimeSeriesStore } from '#telemetry';
import { MemoryAnswerLedger, type AnswerLedger } from './answer-ledger.ts';
import { FrcDecoder } from './frc-decoder.ts';
import type { GatewayHeartbeat } from './heartbeat.ts';
import type { CollectorMembership } from './membership.ts';
import { MemoryPollLease, type PollLease } from './poll-lease.ts';
import { Poller } from './poller.ts';
import { ReadingDeliverer } from './reading-deliverer.ts';
import { newCounters, type CollectorStats, type RejectedAnswers } from './stats.ts';

export type { CollectorCounters, CollectorStats, RejectedAnswers } from './stats.ts';

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

/**
 * The MQTT bridge of the platform: polls the sensors of the gateways it owns through their IQRF
 * daemons (`Poller`), turns every FRC answer it receives into readings (`FrcDecoder`), and hands
 * them to the live bus and the time-series store once (`ReadingDeliverer`), retrying until both
 * accepted them. Malformed answers are logged and counted.
 */
export class Collector {
  /** Shared by the poller, decoder and deliverer (test/support/collector-counts.ts watches it). */
  private readonly counters = newCounters();
  private readonly rejected: RejectedAnswers = { unsolicited: 0, expired: 0, replayed: 0, mismatched: 0, oversized: 0 };
  private readonly warnings: ThrottledWarnings;
  private readonly decoder: FrcDecoder;
  private readonly deliverer: ReadingDeliverer;
  private readonly poller: Poller;
  private readonly stopResponses: () => void;
  private readonly stopMeshChanges: () => void;
  private stopSharing: (() => void) | undefined;
  private subscribed = false;
  private readonly now: () => number;

  constructor(private readonly options: CollectorOptions) {
    const { iqrf, catalog, registry, logger } = options;
    const intervalMs = options.intervalMs ?? 10_000;
    const answerWindowMs = options.answerWindowMs ?? iqrf.requestTimeoutMs + 60_000;
    this.now = options.now ?? Date.now;
    this.warnings = new ThrottledWarnings(logger, { intervalMs: options.warningIntervalMs });
    const shared = { counters: this.counters, warnings: this.warnings, logger };
    this.decoder = new FrcDecoder({ iqrf, catalog, registry, intervalMs, answerWindowMs });
    this.deliverer = new ReadingDeliverer({
      ...shared,
      bus: options.bus,
      store: options.store,
      storeFedFromBus: options.storeFedFromBus,
      ledger: options.ledger ?? new MemoryAnswerLedger(),
      answerWindowMs,
    });
    this.poller = new Poller({
      ...shared,
      iqrf,
      catalog,
      registry,
      intervalMs,
      concurrency: options.concurrency,
      membership: options.membership,
      heartbeat: options.heartbeat,
      lease: options.lease ?? new MemoryPollLease(),
      holder: options.id ?? options.membership?.id ?? 'collector',
      onAnswer: (gatewayId, data) => this.ownAnswer(gatewayId, data),
    });
    // Handle answers from the start: those kept by a persistent session arrive right after connecting.
    this.stopResponses = iqrf.onResponse((gatewayId, response, identifiers) => this.onResponse(gatewayId, response, identifiers));
    this.stopMeshChanges = iqrf.onMeshChange((gatewayId) => catalog.invalidate(gatewayId));
  }

  get stats(): CollectorStats {
    const { stats } = this.options.iqrf;
    const rejectedAnswers = { ...this.rejected, oversized: this.rejected.oversized + stats.oversized };
    return { ...this.counters, malformedPayloads: stats.malformed, rejectedAnswers };
  }

  /** When the gateway answered, from the request's issue time and the answer's arrival (`FrcDecoder.readingTime`). */
  readingTime(issuedAt: number, arrivedAt: number): number {
    return this.decoder.readingTime(issuedAt, arrivedAt);
  }

  /** Follows mesh changes and joins the collectors' shared subscription, if any; answers are handled from construction on. */
  async listen(): Promise<void> {
    if (this.subscribed) return;
    this.subscribed = true;
    await this.options.iqrf.followMeshChanges();
    const shared = this.options.sharedSubscription;
    if (shared) this.stopSharing = await this.options.iqrf.shareResponses(shared);
  }

  /** Listens, then starts a round every `intervalMs` (a round that overruns delays the next one). */
  async start(): Promise<void> {
    await this.listen();
    this.poller.start();
  }

  /**
   * Stops polling and waits for the answers being processed; answers still arriving are handled.
   * Requests of the current round are not waited for: a gateway that does not answer would hold
   * the stop for the whole IQRF timeout.
   */
  async stop(): Promise<void> {
    await this.poller.stop();
    await this.deliverer.drain();
  }

  /** Stops handling answers for good (the process is going away). */
  async close(): Promise<void> {
    this.deliverer.closing();
    await this.stop();
    this.stopResponses();
    this.warnings.flush();
    this.stopSharing?.();
    this.stopMeshChanges();
  }

  /**
   * One round over the active gateways this collector owns, at once or spread over
   * `spreadOverMs`; resolves when their readings are delivered.
   */
  pollAll(options: { spreadOverMs?: number; signal?: AbortSignal; fenced?: boolean } = {}): Promise<void> {
    return this.poller.pollAll(options);
  }

  /** Reads every sensor of one gateway once; failures are logged and counted, never thrown. */
  pollGateway(...args: Parameters<Poller['pollGateway']>): Promise<void> {
    return this.poller.pollGateway(...args);
  }

  private onResponse(gatewayId: string, response: DaemonResponse, identifiers: readonly number[]): void {
    const arrivedAt = this.now();
    const shared = this.options.sharedSubscription;
    if (response.mType !== MType.SENSOR_FRC) return;
    if (shared && !identifiers.includes(shared.identifier)) return;
    this.accept(gatewayId, response, arrivedAt, false);
  }

  /**
   * An answer to this collector's own request: it is turned into readings by whichever collector
   * got it; wait if that is us, or take it over if nobody did (`ReadingDeliverer.handOff`).
   */
  private async ownAnswer(gatewayId: string, data: DaemonAnswer<typeof MType.SENSOR_FRC>): Promise<void> {
    const arrivedAt = this.now();
    const local = this.deliverer.inFlight(data.msgId);
    if (local) await local;
    else if (this.options.sharedSubscription)
      this.deliverer.handOff(gatewayId, data.msgId, () => this.accept(gatewayId, { mType: MType.SENSOR_FRC, data }, arrivedAt, true));
  }

  /**
   * Checks an FRC answer's msgId and turns it into readings; `recovering`: the requester's own
   * copy, taken because no collector of the shared subscription did (the bus keeps it once).
   */
  private accept(gatewayId: string, response: DaemonResponse, arrivedAt: number, recovering: boolean): void {
    const msgId = response.data.msgId;
    const verdict = this.decoder.verify(gatewayId, msgId);
    if (!verdict.ok) return this.reject(verdict.reason, gatewayId, verdict.detail);
    const time = this.decoder.readingTime(verdict.issuedAt, arrivedAt);
    const work = this.process(gatewayId, response, verdict.asked, time, recovering).catch((error: unknown) => {
      this.counters.invalidEntries++;
      this.warnings.warn('frc-failed', 'FRC answer could not be turned into readings', { gatewayId, err: (error as Error).message });
    });
    this.deliverer.track(msgId, work);
  }

  /** Decodes an answer and delivers its readings; counts and logs what was dropped. */
  private async process(gatewayId: string, response: DaemonResponse, asked: FrcClaims, time: number, recovering: boolean): Promise<void> {
    const decoded = await this.decoder.decode(gatewayId, response, asked, time);
    switch (decoded.kind) {
      case 'failed':
        return; // the requester reports the daemon's error
      case 'invalid':
        this.counters.invalidEntries++;
        this.warnings.warn('frc-invalid', 'FRC answer ignored: its rsp is not an iqrfSensor_Frc answer', {
          gatewayId,
          error: decoded.error,
        });
        return;
      case 'unregistered':
        this.warnings.warn('unregistered-gateway', 'FRC answer from an unregistered gateway ignored', { gatewayId });
        return;
      case 'rejected':
        return this.reject(decoded.reason, gatewayId, decoded.detail);
    }
    // Claimed last, so that a forged answer refused above cannot spend the msgId of the genuine one.
    const delivery = await this.deliverer.deliver(response.data.msgId, decoded.readings, recovering);
    if (delivery === 'claimed') return this.reject('replayed', gatewayId, 'answer already turned into readings');
    if (delivery === 'on-bus') {
      if (!recovering) this.reject('replayed', gatewayId, 'answer already on the live bus');
      return;
    }
    if (recovering) this.counters.recoveredAnswers++;
    this.counters.skippedNulls += decoded.nulls;
    this.counters.invalidEntries += decoded.invalid;
    if (decoded.invalid) this.warnings.warn('invalid-entries', 'invalid FRC sensor entries ignored', { gatewayId }, decoded.invalid);
  }

  private reject(reason: keyof RejectedAnswers, gatewayId: string, detail: string): void {
    this.rejected[reason]++;
    this.warnings.warn(`rejected-${reason}`, 'FRC answer dropped', { reason, gatewayId, detail });
  }
}
