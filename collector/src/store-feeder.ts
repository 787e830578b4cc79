import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Logger } from '#log';
import type { Reading, TimeSeriesStore } from '#telemetry';

export interface RedisStoreFeederOptions {
  /** `redis://host:port[/db]` of the live bus. */
  url: string;
  /** The live bus stream. Default `iot:readings`. */
  stream?: string;
  /** The consumer group of the stores' writers. Default `store`. */
  group?: string;
  /** This writer's name in the group: the collector id, stable across restarts. */
  consumer: string;
  store: TimeSeriesStore;
  logger: Logger;
  /** A batch another writer has held unacknowledged this long is taken over (it died). Default 60 s. */
  claimIdleMs?: number;
  /** Batches read at once. Default 200. */
  count?: number;
  /** How long one read waits for new batches. Default 2 s. */
  blockMs?: number;
}

type StreamEntry = [id: string, fields: string[] | null];

/**
 * Feeds the time-series store from the live bus, so that what the collector counts as accepted is
 * what Redis holds, not what a carbon buffer holds in memory: a consumer group over the stream,
 * each batch acknowledged only once the store has it (Graphite: carbon's socket took every point,
 * `flushed()`). A writer that restarts first writes the batches it had not acknowledged; one that
 * died leaves them to the others after `claimIdleMs`. Writing a batch twice is harmless (a slot
 * written again keeps its value). A stalled store stalls only this loop, never the live stream.
 */
export class RedisStoreFeeder {
  private readonly redis: Redis;
  private readonly stream: string;
  private readonly group: string;
  private readonly claimIdleMs: number;
  private readonly count: number;
  private readonly blockMs: number;
  private closed = false;
  private draining = false;
  private loop: Promise<void> | undefined;
  private readonly counters = { batches: 0, readings: 0, takenOver: 0, trimmed: 0 };

  constructor(private readonly options: RedisStoreFeederOptions) {
    this.stream = options.stream ?? 'iot:readings';
    this.group = options.group ?? 'store';
    this.claimIdleMs = options.claimIdleMs ?? 60_000;
    this.count = options.count ?? 200;
    this.blockMs = options.blockMs ?? 2_000;
    this.redis = new Redis(options.url, {
      connectionName: 'iot-store-feeder',
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    this.redis.on('error', (error: Error) => options.logger.debug({ err: error }, 'store feeder Redis connection error'));
  }

  /** Batches and readings written to the store; batches taken over from other writers; trimmed before written. */
  get stats() {
    return { ...this.counters };
  }

  /** Joins the group (created at the stream's end the first time) and starts writing. */
  async start(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.group, '$', 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
    }
    this.loop = this.run();
  }

  /**
   * Writes what is already in the stream (for up to `drainMs`), then stops; a batch not yet
   * acknowledged stays in the group for the next start or another writer.
   */
  async close(drainMs = 5_000): Promise<void> {
    this.draining = true;
    await Promise.race([this.loop, sleep(drainMs)]);
    this.closed = true;
    this.redis.disconnect();
    // A write waiting for a store that is down is abandoned: its batch is written on the next start.
    await Promise.race([this.loop, sleep(2_000)]);
  }

  private async run(): Promise<void> {
    let backlog = true; // this consumer's own unacknowledged batches first (a restart)
    let lastClaim = 0;
    while (!this.closed) {
      try {
        let entries: StreamEntry[];
        if (backlog) {
          entries = this.entriesOf(
            await this.redis.xreadgroup('GROUP', this.group, this.options.consumer, 'COUNT', this.count, 'STREAMS', this.stream, '0'),
          );
          if (!entries.length) backlog = false;
        } else if (Date.now() - lastClaim >= this.claimIdleMs / 2) {
          lastClaim = Date.now();
          const reply = (await this.redis.xautoclaim(
            this.stream,
            this.group,
            this.options.consumer,
            this.claimIdleMs,
            '0-0',
            'COUNT',
            this.count,
          )) as [string, StreamEntry[]];
          entries = reply[1] ?? [];
          this.counters.takenOver += entries.length;
          if (entries.length)
            this.options.logger.info({ batches: entries.length }, 'store feeder took over batches another collector did not write');
        } else {
          const { consumer } = this.options;
          const reply = this.draining
            ? await this.redis.xreadgroup('GROUP', this.group, consumer, 'COUNT', this.count, 'STREAMS', this.stream, '>')
            : await this.redis.xreadgroup(
                'GROUP',
                this.group,
                consumer,
                'COUNT',
                this.count,
                'BLOCK',
                this.blockMs,
                'STREAMS',
                this.stream,
                '>',
              );
          entries = this.entriesOf(reply);
          if (!entries.length && this.draining) return;
        }
        if (entries.length) await this.write(entries);
      } catch (error) {
        if (this.closed) return;
        this.options.logger.warn({ err: (error as Error).message }, 'store feeder failed; retrying');
        await sleep(1_000);
      }
    }
  }

  private async write(entries: StreamEntry[]): Promise<void> {
    const readings: Reading[] = [];
    for (const [, fields] of entries) {
      const text = fields && fields[fields.indexOf('r') + 1];
      if (!fields || fields.indexOf('r') < 0 || !text) {
        this.counters.trimmed++;
        continue;
      }
      try {
        readings.push(...(JSON.parse(text) as Reading[]));
      } catch {
        this.options.logger.warn({ stream: this.stream }, 'store feeder skipped a malformed entry');
      }
    }
    const store = this.options.store as TimeSeriesStore & { flushed?: () => Promise<void> };
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      if (this.closed) return;
      try {
        await store.write(readings);
        await store.flushed?.();
        break;
      } catch (error) {
        this.options.logger.warn({ err: (error as Error).message, retryInMs: delay }, 'store refused readings; retrying');
        await sleep(delay);
      }
    }
    if (this.closed) return;
    await this.redis.xack(this.stream, this.group, ...entries.map(([id]) => id));
    this.counters.batches += entries.length;
    this.counters.readings += readings.length;
  }

  /** The entries of an XREADGROUP reply for one stream (RESP2 `[[key, entries]]`), none on timeout. */
  private entriesOf(reply: unknown): StreamEntry[] {
    if (!Array.isArray(reply)) return [];
    const first: unknown = reply[0];
    return (Array.isArray(first) ? (first[1] ?? []) : []) as StreamEntry[];
  }
}
