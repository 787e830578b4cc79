import type { Reading } from './reading.ts';

/**
 * Called with each published batch, in publish order. `position` identifies the batch in the
 * bus (a Redis stream entry id, or a counter in memory) and grows with every batch.
 */
export type BusListener = (readings: readonly Reading[], position: string) => void;

/**
 * How live readings travel from the collector to the telemetry subgraph's subscriptions.
 * Implementations: in-memory (the embedded default; one process) and Redis Streams.
 */
export interface LiveBus {
  /** Resolves once the bus has accepted the readings: every subscriber will see them. */
  publish(readings: readonly Reading[]): Promise<void>;
  /** Calls `listener` with each batch published from now on; returns the unsubscribe function. */
  subscribe(listener: BusListener): () => void;
  close(): Promise<void>;
}

/** The embedded default `LiveBus`: listeners in this process, called synchronously in publish order. */
export class MemoryLiveBus implements LiveBus {
  private readonly listeners = new Set<BusListener>();
  private sequence = 0;

  async publish(readings: readonly Reading[]): Promise<void> {
    const position = String(++this.sequence);
    for (const listener of this.listeners) listener(readings, position);
  }

  subscribe(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
