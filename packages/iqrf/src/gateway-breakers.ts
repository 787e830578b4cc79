export interface GatewayBreakerOptions {
  /** Pause after a first failure; it doubles with each failure in a row. Default 2 s. */
  minBackoffMs?: number;
  /** The longest pause. Default 60 s. */
  maxBackoffMs?: number;
  now?: () => number;
}

interface Open {
  /** When it failed. */
  since: number;
  /** Whether nothing was heard from the gateway while it failed. */
  silent: boolean;
  /** When a request may be tried again. */
  until: number;
  backoffMs: number;
}

/**
 * A circuit breaker per gateway: after a daemon failed, it is not asked again before a backoff
 * (2 s, doubling up to 60 s while it keeps failing); a success closes it. A gateway that was
 * silent when it failed (nothing heard from it meanwhile: off, or not booted yet) is asked again
 * as soon as anything is heard from it; one that failed while heard (a daemon whose radio is
 * stuck still answers heartbeats) waits out its backoff.
 */
export class GatewayBreakers {
  private readonly open = new Map<string, Open>();
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;

  constructor(options: GatewayBreakerOptions = {}) {
    this.minBackoffMs = options.minBackoffMs ?? 2_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Whether the gateway's daemon may be asked now; `lastHeard` is when anything was last heard from it. */
  allows(gatewayId: string, lastHeard?: number): boolean {
    const state = this.open.get(gatewayId);
    if (!state) return true;
    if (state.silent && lastHeard !== undefined && lastHeard > state.since) return true;
    return this.now() >= state.until;
  }

  /** The daemon failed; `silent` when nothing at all was heard from the gateway while it did. */
  failed(gatewayId: string, silent = false): void {
    const previous = this.open.get(gatewayId);
    const backoffMs = previous ? Math.min(previous.backoffMs * 2, this.maxBackoffMs) : this.minBackoffMs;
    const now = this.now();
    this.open.set(gatewayId, { since: now, silent, until: now + backoffMs, backoffMs });
  }

  succeeded(gatewayId: string): void {
    this.open.delete(gatewayId);
  }

  /** Forgets a gateway (decommissioned: its id may come back as another gateway). */
  forget(gatewayId: string): void {
    this.open.delete(gatewayId);
  }

  /** When an open breaker lets a request through again; undefined when it is closed. */
  retryAt(gatewayId: string): number | undefined {
    return this.open.get(gatewayId)?.until;
  }
}
