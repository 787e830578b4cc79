/**
 * The fence between collectors: a gateway is polled only by the collector holding its lease for
 * the round, so two collectors that disagree for a moment about who owns it (one just joined or
 * came back, its presence not yet seen by the other) never poll it for the same round. A lease is
 * taken per gateway and round and lapses by itself: nothing to hand back when a collector dies.
 */
export interface PollLease {
  /** True when `holder` may poll `gatewayId` now: nobody took its lease in the last `ms`. */
  acquire(gatewayId: string, holder: string, ms: number): Promise<boolean>;
  close(): Promise<void>;
}

/** `PollLease` of one process (a collector alone). */
export class MemoryPollLease implements PollLease {
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(gatewayId: string, _holder: string, ms: number): Promise<boolean> {
    const now = this.now();
    if ((this.until.get(gatewayId) ?? 0) > now) return false;
    this.until.set(gatewayId, now + ms);
    return true;
  }

  async close(): Promise<void> {
    this.until.clear();
  }
}
