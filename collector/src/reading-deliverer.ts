import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger, ThrottledWarnings } from '#log';
import type { LiveBus, Reading, TimeSeriesStore } from '#telemetry';
import type { AnswerLedger } from './answer-ledger.ts';
import type { CollectorCounters } from './stats.ts';

export interface ReadingDelivererOptions {
  bus: LiveBus;
  store: TimeSeriesStore;
  /** The store is fed from the bus by someone else: only publish. */
  storeFedFromBus?: boolean;
  /** The msgIds of answers already turned into readings (by any collector sharing it). */
  ledger: AnswerLedger;
  /** How long after its request an FRC answer is still accepted, in ms (how long the ledger remembers it). */
  answerWindowMs: number;
  counters: CollectorCounters;
  warnings: ThrottledWarnings;
  logger: Logger;
}

/** What became of an answer's readings. */
export type Delivery =
  /** On the bus (and the store) now. */
  | 'delivered'
  /** Another copy of the answer claimed it in the ledger first. */
  | 'claimed'
  /** The bus already had these readings (another collector delivered them). */
  | 'on-bus';

const MAX_RETRY_DELAY_MS = 5_000;
/** How long stopping waits for deliveries to a store or bus that refuses or stalls them. */
const CLOSE_GRACE_MS = 10_000;
/** How long a claim on an answer (the ledger's `firstUse`) holds before another copy may try. */
const CLAIM_MS = 30_000;
/** How long the requester of an answer leaves it to the shared subscription before it checks. */
const HANDOFF_MS = 3_000;

/**
 * Delivers the readings of each answer once: claimed in the answer ledger, then the live bus
 * first (retried with backoff until it accepts), so a slow or stalled store never holds the live
 * stream back, then the store unless it is fed from the bus. Keeps the answers being handled, so
 * that copies of one (a QoS 1 redelivery, a replay) wait for the first, and stopping waits for them.
 */
export class ReadingDeliverer {
  private readonly handling = new Map<string, Promise<void>>();
  /** Own answers left to the shared subscription for a moment (`HANDOFF_MS`), then checked. */
  private readonly recoveries = new Set<Promise<void>>();
  private closingSince: number | undefined;

  constructor(private readonly options: ReadingDelivererOptions) {}

  /**
   * Keeps `work`, the handling of the answer `msgId`, until it settles. A copy takes the slot but
   * still waits for the first one, which may be the one that delivers; only the entry's own
   * promise clears it.
   */
  track(msgId: string, work: Promise<void>): void {
    const previous = this.handling.get(msgId);
    const done = previous ? Promise.all([previous, work]).then(() => undefined) : work;
    this.handling.set(msgId, done);
    void done.finally(() => this.handling.get(msgId) === done && this.handling.delete(msgId));
  }

  /** The handling of the answer `msgId` in this process, if any. */
  inFlight(msgId: string): Promise<void> | undefined {
    return this.handling.get(msgId);
  }

  /**
   * The shared subscription may hand an answer to a collector that is gone (its session lives on
   * at the broker and keeps its share): after `HANDOFF_MS`, unless a collector handles it here or
   * recorded it done, `recover` (the requester turning its own copy into readings) is called.
   */
  handOff(gatewayId: string, msgId: string, recover: () => void): void {
    const task = (async () => {
      await sleep(HANDOFF_MS);
      if (this.handling.has(msgId) || (await this.options.ledger.isDone(msgId))) return;
      recover();
      await this.handling.get(msgId);
    })().catch((error: unknown) =>
      this.options.warnings.warn('recovery-failed', 'own FRC answer could not be checked', { gatewayId, err: (error as Error).message }),
    );
    this.recoveries.add(task);
    void task.finally(() => this.recoveries.delete(task));
  }

  /**
   * Delivers an answer's readings unless another copy claimed the answer first (`recovering`:
   * the requester's own copy, which claims nothing: the bus keeps its readings once), and records
   * the answer done. Only a claim comes first, so a collector killed before the bus loses nothing.
   */
  async deliver(msgId: string, readings: Reading[], recovering: boolean): Promise<Delivery> {
    const { ledger } = this.options;
    if (!recovering && !(await this.retry('answer ledger', () => ledger.firstUse(msgId, CLAIM_MS)))) return 'claimed';
    const appended = readings.length ? await this.publish(readings) : true;
    await this.retry('answer ledger', () => ledger.done(msgId, this.options.answerWindowMs + 60_000));
    return appended ? 'delivered' : 'on-bus';
  }

  /** The process is going away: a bus, store or ledger still refusing after a grace is given up on. */
  closing(): void {
    this.closingSince = Date.now();
  }

  /** Waits a bounded time for the answers being handled (a store or bus that is down may hold them). */
  async drain(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
    await Promise.race([Promise.all([...this.recoveries, ...this.handling.values()]), grace]);
    clearTimeout(timer);
    if (this.handling.size)
      this.options.logger.error({ answers: this.handling.size }, 'stopped with answers not yet delivered to the store and bus');
  }

  /** The bus, then the store; false when the bus already had these answers (nothing published, nothing written). */
  private async publish(readings: Reading[]): Promise<boolean> {
    const appended = await this.retry('bus', () => this.options.bus.publish(readings));
    if (!appended) return false;
    this.options.counters.readings += readings.length;
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
        this.options.counters.deliveryRetries++;
        this.options.logger.warn({ err: (error as Error).message, retryInMs: delay }, `${what} refused readings; retrying`);
        await sleep(delay);
      }
    }
  }
}
