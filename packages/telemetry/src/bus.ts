import type { Reading } from './reading.ts';

/**
 * How live readings travel from the collector to the telemetry subgraph's subscriptions.
 * Implementations: in-memory (the embedded default; one process) and Redis.
 */
export interface LiveBus {
  /** Resolves once every current subscriber will see the readings. */
  publish(readings: readonly Reading[]): Promise<void>;
  /** Calls `listener` with each published batch, in order; returns the unsubscribe function. */
  subscribe(listener: (readings: readonly Reading[]) => void): () => void;
  close(): Promise<void>;
}

/** The embedded default `LiveBus`: listeners in this process, called synchronously in publish order. */
export class MemoryLiveBus implements LiveBus {
  private readonly listeners = new Set<(readings: readonly Reading[]) => void>();

  async publish(readings: readonly Reading[]): Promise<void> {
    for (const listener of this.listeners) listener(readings);
  }

  subscribe(listener: (readings: readonly Reading[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
