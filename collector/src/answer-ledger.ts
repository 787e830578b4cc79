/**
 * Remembers which daemon answers were already turned into readings, by `msgId`, so that a replayed
 * answer (a copy re-published by anyone, or a QoS 1 redelivery) is recognised. Shared by every
 * collector when it lives in Redis (`RedisAnswerLedger`).
 */
export interface AnswerLedger {
  /**
   * True the first time `msgId` is given (it is then remembered for `ttlMs`), false afterwards.
   * `ttlMs` must cover the time in which the msgId is still accepted as fresh.
   */
  firstUse(msgId: string, ttlMs: number): Promise<boolean>;
  /**
   * Records that the answer's readings are on the live bus, for `ttlMs`. `firstUse` is only a
   * claim: a collector killed between the claim and the bus leaves the answer not done, and the
   * collector that asked turns it into readings itself (the bus keeps them once).
   */
  done(msgId: string, ttlMs: number): Promise<void>;
  /** Whether `done` was recorded for `msgId` (and not yet forgotten). */
  isDone(msgId: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface MemoryAnswerLedgerOptions {
  /** Most msgIds remembered; past it the oldest are forgotten. Default 1_000_000 (~150 MB). */
  maxEntries?: number;
  now?: () => number;
}

/** `AnswerLedger` of one process: a map from msgId to when it may be forgotten. */
export class MemoryAnswerLedger implements AnswerLedger {
  private readonly expiries = new Map<string, number>();
  private readonly finished = new Set<string>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryAnswerLedgerOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000_000;
    this.now = options.now ?? Date.now;
  }

  async firstUse(msgId: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    this.forgetExpired(now);
    const expires = this.expiries.get(msgId);
    if (expires !== undefined && expires > now) return false;
    this.expiries.delete(msgId);
    this.expiries.set(msgId, now + ttlMs);
    if (this.expiries.size > this.maxEntries) this.forget(this.expiries.keys().next().value!);
    return true;
  }

  async done(msgId: string, ttlMs: number): Promise<void> {
    this.expiries.delete(msgId);
    this.expiries.set(msgId, this.now() + ttlMs);
    this.finished.add(msgId);
    if (this.expiries.size > this.maxEntries) this.forget(this.expiries.keys().next().value!);
  }

  async isDone(msgId: string): Promise<boolean> {
    const expires = this.expiries.get(msgId);
    return expires !== undefined && expires > this.now() && this.finished.has(msgId);
  }

  async close(): Promise<void> {
    this.expiries.clear();
    this.finished.clear();
  }

  private forget(msgId: string): void {
    this.expiries.delete(msgId);
    this.finished.delete(msgId);
  }

  // Entries are kept in insertion order and nearly always share one TTL: the expired are in front.
  private forgetExpired(now: number): void {
    for (const [msgId, expires] of this.expiries) {
      if (expires > now) return;
      this.forget(msgId);
    }
  }
}
