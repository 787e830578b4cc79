import type { Logger } from 'pino';

export interface ThrottledWarningsOptions {
  /** At most one line per kind in this time. Default 30 s. */
  intervalMs?: number;
  /** Gateway ids named in a line, the first ones seen. Default 5. */
  maxGatewayIds?: number;
}

/** What one warning says; `gatewayId` is gathered into the line's `gatewayIds`. */
export type WarningFields = { gatewayId?: string } & Record<string, unknown>;

interface Pending {
  message: string;
  fields: WarningFields;
  dropped: number;
  gatewayIds: string[];
  lastLineAt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Warnings that hostile or broken peers can cause at any rate (malformed payloads, refused
 * answers): at most one line per kind and interval, `{ kind, dropped: N, gatewayIds: [first few],
 * ...fields of the first }`. The first warning of a quiet kind is written at once; those that
 * follow within the interval are written as one line when it ends.
 */
export class ThrottledWarnings {
  private readonly kinds = new Map<string, Pending>();
  private readonly intervalMs: number;
  private readonly maxGatewayIds: number;

  constructor(
    private readonly logger: Logger,
    options: ThrottledWarningsOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 30_000;
    this.maxGatewayIds = options.maxGatewayIds ?? 5;
  }

  /** Counts one warning of `kind` (also `count` at once, e.g. the entries of one answer). */
  warn(kind: string, message: string, fields: WarningFields = {}, count = 1): void {
    const now = Date.now();
    let pending = this.kinds.get(kind);
    if (!pending) {
      pending = { message, fields, dropped: 0, gatewayIds: [], lastLineAt: -Infinity };
      this.kinds.set(kind, pending);
    }
    if (pending.dropped === 0) {
      pending.message = message;
      pending.fields = fields;
    }
    pending.dropped += count;
    if (fields.gatewayId !== undefined && pending.gatewayIds.length < this.maxGatewayIds && !pending.gatewayIds.includes(fields.gatewayId))
      pending.gatewayIds.push(fields.gatewayId);
    if (now - pending.lastLineAt >= this.intervalMs) return this.write(kind, pending, now);
    if (!pending.timer) {
      pending.timer = setTimeout(() => this.write(kind, pending, Date.now()), pending.lastLineAt + this.intervalMs - now);
      pending.timer.unref();
    }
  }

  /** Writes what is counted and not yet written (e.g. before the process ends). */
  flush(): void {
    for (const [kind, pending] of this.kinds) if (pending.dropped) this.write(kind, pending, Date.now());
  }

  private write(kind: string, pending: Pending, now: number): void {
    clearTimeout(pending.timer);
    pending.timer = undefined;
    if (!pending.dropped) return;
    const { gatewayId: _, ...fields } = pending.fields;
    this.logger.warn(
      { ...fields, kind, dropped: pending.dropped, ...(pending.gatewayIds.length ? { gatewayIds: pending.gatewayIds } : {}) },
      pending.message,
    );
    pending.dropped = 0;
    pending.gatewayIds = [];
    pending.lastLineAt = now;
  }
}
