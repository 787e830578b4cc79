import type { Reading } from './reading.ts';

/**
 * Called with each published batch, in publish order. `position` identifies the batch in the
 * bus (a Redis stream entry id `<ms>-<seq>`, or a counter in memory) and grows with every batch;
 * compare positions with `comparePositions`, not as text.
 */
export type BusListener = (readings: readonly Reading[], position: string) => void;

/** One batch read back from the bus. */
export interface BusEntry {
  position: string;
  readings: Reading[];
}

/**
 * How live readings travel from the collector to the telemetry subgraph's subscriptions.
 * Implementations: in-memory (the embedded default; one process) and Redis Streams. Both keep a
 * bounded history of batches, which resumable subscriptions replay.
 */
export interface LiveBus {
  /**
   * Resolves once the bus has accepted the readings: every subscriber will see them. Readings of
   * an answer (`answerId`) are published once: a batch whose answers were all published before
   * (a redelivered answer, or one two collectors both got) appends nothing and resolves `false`.
   * So a batch holds the readings of whole answers, as the collector publishes them.
   */
  publish(readings: readonly Reading[]): Promise<boolean>;
  /** Calls `listener` with each batch published from now on; returns the unsubscribe function. */
  subscribe(listener: BusListener): () => void;
  /** Up to `count` kept batches after `position` (or from it, when `inclusive`), oldest first. */
  readRange(position: string, count: number, inclusive?: boolean): Promise<BusEntry[]>;
  /** The oldest batch still kept; undefined when none is. */
  oldestPosition(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** Orders two bus positions (`<n>` or `<ms>-<seq>`): negative when `a` comes first. */
export function comparePositions(a: string, b: string): number {
  const [aMain = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMain = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMain !== bMain) return aMain < bMain ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/**
 * The embedded default `LiveBus`: listeners in this process, called synchronously in publish
 * order, and the last `retainedBatches` batches kept for replay.
 */
export class MemoryLiveBus implements LiveBus {
  private readonly listeners = new Set<BusListener>();
  private readonly kept: BusEntry[] = [];
  private sequence = 0;
  /** Answers published, oldest first, so that a copy is not published again (bounded). */
  private readonly answers = new Set<string>();

  constructor(
    private readonly retainedBatches = 10_000,
    private readonly rememberedAnswers = 1_000_000,
  ) {}

  async publish(readings: readonly Reading[]): Promise<boolean> {
    const answerIds = new Set(readings.flatMap((r) => (r.answerId ? [r.answerId] : [])));
    if (answerIds.size && readings.every((r) => r.answerId) && [...answerIds].every((id) => this.answers.has(id))) return false;
    for (const id of answerIds) this.answers.add(id);
    for (const id of this.answers) {
      if (this.answers.size <= this.rememberedAnswers) break;
      this.answers.delete(id);
    }
    const position = String(++this.sequence);
    this.kept.push({ position, readings: [...readings] });
    if (this.kept.length > this.retainedBatches) this.kept.splice(0, this.kept.length - this.retainedBatches);
    for (const listener of this.listeners) {
      // One failing listener must not keep the batch from the others (or make publish fail).
      try {
        listener(readings, position);
      } catch {
        // The listener's own business; the Redis bus logs these, here there is no logger.
      }
    }
    return true;
  }

  subscribe(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async readRange(position: string, count: number, inclusive = false): Promise<BusEntry[]> {
    const after = Number(position);
    const start = this.kept.findIndex((entry) => (inclusive ? Number(entry.position) >= after : Number(entry.position) > after));
    return start < 0 ? [] : this.kept.slice(start, start + count);
  }

  async oldestPosition(): Promise<string | undefined> {
    return this.kept[0]?.position;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
