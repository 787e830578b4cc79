import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Quantity } from '#iqrf';
import type { Logger } from '#log';
import type { BusEntry, BusListener, LiveBus } from './bus.ts';
import type { Reading } from './reading.ts';

export interface RedisLiveBusOptions {
  /** `redis://host:port[/db]` */
  url: string;
  logger: Logger;
  /** The stream key. Default `iot:readings`. */
  stream?: string;
  /** Keep about this many batches (`XADD MAXLEN ~`). Default 1_000_000. Ignored when `retentionMs` is set. */
  maxLen?: number;
  /** Keep about this long a history instead (`XADD MINID ~ <now - retentionMs>`), in ms. */
  retentionMs?: number;
  /** How long one `XREAD` of the reader loop blocks, in ms. Bounds how late the loop notices it has no listeners left. Default 5000. */
  blockMs?: number;
  /** Most batches one `XREAD` returns. Default 100. */
  batchCount?: number;
  /**
   * Bytes of batches that may wait for Redis at once: sent but not yet acknowledged, or queued
   * while Redis is unreachable. A batch counts its JSON plus 1 KiB (the script and ioredis' command
   * around it). Past it `publish` rejects at once with `LiveBusBacklogError` and the batch is not
   * queued; batches already waiting are not affected. Default 64 MiB.
   */
  maxPendingBytes?: number;
  /**
   * How long the bus remembers that an answer (`Reading.answerId`) was published, in ms: a copy
   * published within it appends nothing. Keep it above the collectors' answer window (an older
   * answer is refused by the collector anyway). Default 3 min.
   */
  answerTtlMs?: number;
}

/** `publish` was refused because too much is already waiting for Redis (see `maxPendingBytes`). */
export class LiveBusBacklogError extends Error {
  readonly code = 'LIVE_BUS_BACKLOG_FULL';
  constructor(pendingBytes: number, batchBytes: number, maxPendingBytes: number) {
    super(
      `live bus: ${pendingBytes} bytes of batches already wait for Redis; one more of ${batchBytes} bytes would pass maxPendingBytes (${maxPendingBytes}), so it was not published`,
    );
    this.name = 'LiveBusBacklogError';
  }
}

type StreamEntry = [id: string, fields: string[]];

/**
 * Appends a batch unless this publisher already did (a command resent after a lost reply):
 * each publisher numbers its batches, and ioredis sends one connection's commands in order,
 * resent ones first, so a number not above the last one stored was already appended.
 * Nor when every answer of the batch was published before, by any publisher (a redelivered
 * answer, or one two collectors got): one key per answer, checked and set in the same script.
 * Trimming by age uses Redis' clock, the one entry ids are made from.
 * KEYS: stream, this publisher's last number, then one key per answer of the batch. ARGV: number,
 * MAXLEN|MINID, max length or retention in ms, JSON, TTL of the publisher key in s, TTL of the
 * answer keys in ms. Returns the entry id, 1 for a resend, 0 for answers already published.
 */
const PUBLISH_SCRIPT = `
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) <= last then return 1 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[5])
if #KEYS > 2 then
  local fresh = false
  for i = 3, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 0 then fresh = true end
  end
  if not fresh then return 0 end
  for i = 3, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', ARGV[6]) end
end
local threshold = ARGV[3]
if ARGV[2] == 'MINID' then
  local now = redis.call('TIME')
  threshold = string.format('%.0f', math.max(0, now[1] * 1000 + math.floor(now[2] / 1000) - tonumber(ARGV[3])))
end
return redis.call('XADD', KEYS[1], ARGV[2], '~', threshold, '*', 'r', ARGV[4])
`;

/** What a waiting batch costs beyond its JSON: the script text and ioredis' command objects. */
const BATCH_OVERHEAD_BYTES = 1024;

/** How long Redis remembers a publisher's last batch number after its last publish. */
const PUBLISHER_KEY_TTL_SECONDS = 24 * 60 * 60;

/**
 * `LiveBus` on a Redis stream, for several processes. Each batch is one entry whose field `r`
 * holds the readings as a JSON array; its id is the batch's position.
 *
 * Two connections: one for writes and short reads, and one for the reader loop, which blocks in
 * `XREAD` and feeds every listener of this instance. Both reconnect forever. A publish made while
 * Redis is unreachable waits in ioredis' offline queue and is sent after reconnecting, within
 * `maxPendingBytes`; resends are deduplicated in Redis so a batch is appended once. The reader loop
 * continues from the last id it delivered, so a restart of Redis (with its data) or a lost
 * connection neither repeats nor skips a batch still in the stream.
 */
export class RedisLiveBus implements LiveBus {
  private readonly writer: Redis;
  private readonly reader: Redis;
  private readonly logger: Logger;
  /** The stream key (a store feeder reads it with a consumer group). */
  readonly stream: string;
  private readonly trim: { strategy: 'MAXLEN'; threshold: number } | { strategy: 'MINID'; retentionMs: number };
  private readonly blockMs: number;
  private readonly batchCount: number;
  private readonly maxPendingBytes: number;
  private readonly answerTtlMs: number;
  private readonly publisherKey: string;
  private readonly listeners = new Set<BusListener>();
  private publishSequence = 0;
  private pendingBytes = 0;
  /** Bumped whenever the reader loop must stop: a loop only runs while its generation is current. */
  private generation = 0;
  private loop: Promise<void> | undefined;
  private started: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: RedisLiveBusOptions) {
    this.logger = options.logger;
    this.stream = options.stream ?? 'iot:readings';
    this.trim =
      options.retentionMs !== undefined
        ? { strategy: 'MINID', retentionMs: positive('retentionMs', options.retentionMs) }
        : { strategy: 'MAXLEN', threshold: positive('maxLen', options.maxLen ?? 1_000_000) };
    this.blockMs = positive('blockMs', options.blockMs ?? 5_000);
    this.batchCount = positive('batchCount', options.batchCount ?? 100);
    this.maxPendingBytes = positive('maxPendingBytes', options.maxPendingBytes ?? 64 * 1024 * 1024);
    this.answerTtlMs = positive('answerTtlMs', options.answerTtlMs ?? 3 * 60_000);
    this.publisherKey = `${this.stream}:publisher:${randomUUID()}`;
    this.writer = this.connect(options.url, 'writer', 10_000);
    // Redis answers a blocked XREAD within blockMs; silence well past that means a dead socket.
    this.reader = this.connect(options.url, 'reader', this.blockMs + 10_000);
  }

  /**
   * Resolves once Redis has appended the batch. While Redis is unreachable it waits and is sent
   * after reconnecting; rejects with `LiveBusBacklogError` when `maxPendingBytes` would be passed,
   * and with ioredis' error when the bus is closed first. Resolves `false`, appending nothing,
   * when every reading comes from answers already published (see `LiveBus.publish`).
   */
  async publish(readings: readonly Reading[]): Promise<boolean> {
    if (this.closed) throw new Error('live bus: publish after close');
    const payload = JSON.stringify(readings);
    const bytes = Buffer.byteLength(payload) + BATCH_OVERHEAD_BYTES;
    if (this.pendingBytes + bytes > this.maxPendingBytes) throw new LiveBusBacklogError(this.pendingBytes, bytes, this.maxPendingBytes);
    this.pendingBytes += bytes;
    // Only a batch made of answers is deduplicated: a reading without one is always appended.
    const answerKeys = readings.every((r) => r.answerId) ? [...new Set(readings.map((r) => `${this.stream}:answer:${r.answerId}`))] : [];
    try {
      const appended = await this.writer.eval(
        PUBLISH_SCRIPT,
        2 + answerKeys.length,
        this.stream,
        this.publisherKey,
        ...answerKeys,
        ++this.publishSequence,
        this.trim.strategy,
        this.trim.strategy === 'MAXLEN' ? this.trim.threshold : this.trim.retentionMs,
        payload,
        PUBLISHER_KEY_TTL_SECONDS,
        this.answerTtlMs,
      );
      return appended !== 0;
    } finally {
      this.pendingBytes -= bytes;
    }
  }

  /**
   * Calls `listener` with every batch appended after the reader loop fixed its start: the last
   * entry when the first listener of this instance subscribed (see `listening()`). Listeners that
   * join a running loop get what it reads next.
   */
  subscribe(listener: BusListener): () => void {
    if (this.closed) throw new Error('live bus: subscribe after close');
    const wrapped: BusListener = (readings, position) => listener(readings, position);
    this.listeners.add(wrapped);
    if (this.listeners.size === 1) this.startLoop();
    return () => {
      if (!this.listeners.delete(wrapped)) return;
      if (this.listeners.size === 0) this.generation++;
    };
  }

  /** Resolves once the reader loop knows where it starts; a batch published after that reaches current listeners. */
  listening(): Promise<void> {
    return this.started;
  }

  /** Up to `count` batches after `afterPosition` (exclusive unless `inclusive`), oldest first; malformed entries are left out. */
  async readRange(afterPosition: string, count: number, inclusive = false): Promise<BusEntry[]> {
    const batches: BusEntry[] = [];
    let after = afterPosition;
    let open = !inclusive;
    while (batches.length < count) {
      const wanted = count - batches.length;
      const entries = (await this.writer.xrange(this.stream, open ? `(${after}` : after, '+', 'COUNT', wanted)) as StreamEntry[];
      open = true;
      for (const entry of entries) {
        const batch = this.parse(entry);
        if (batch) batches.push(batch);
      }
      const last = entries.at(-1);
      if (entries.length < wanted || !last) break;
      after = last[0];
    }
    return batches;
  }

  /** The position of the oldest batch still in the stream; undefined when it is empty. */
  async oldestPosition(): Promise<string | undefined> {
    const [first] = (await this.writer.xrange(this.stream, '-', '+', 'COUNT', 1)) as StreamEntry[];
    return first?.[0];
  }

  /** Stops the reader loop and closes both connections; publishes still waiting for Redis then reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    this.listeners.clear();
    this.reader.disconnect();
    if (this.writer.status === 'ready') {
      // QUIT is answered after the commands sent before it, so publishes under way finish first.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.writer.quit().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
      clearTimeout(timer);
    }
    this.writer.disconnect();
    await this.loop;
  }

  private connect(url: string, role: 'writer' | 'reader', socketTimeout: number): Redis {
    const redis = new Redis(url, {
      connectionName: `iot-live-bus-${role}`,
      // Commands wait for the connection forever instead of failing after some retries.
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
      socketTimeout,
    });
    // One line when the connection goes and one when it is back, not one per reconnect attempt.
    let lost = false;
    redis.on('ready', () => {
      if (lost) this.logger.info({ stream: this.stream, role }, 'live bus reconnected to Redis');
      lost = false;
    });
    redis.on('close', () => {
      if (lost || this.closed) return;
      lost = true;
      this.logger.warn({ stream: this.stream, role }, 'live bus lost its Redis connection; reconnecting');
    });
    redis.on('error', (error: Error) => this.logger.debug({ stream: this.stream, role, err: error }, 'live bus Redis connection error'));
    return redis;
  }

  private startLoop(): void {
    const generation = ++this.generation;
    // The start is read on the writer connection, so it is ordered with this instance's publishes.
    const start = this.lastEntryId();
    this.started = start.then(
      () => undefined,
      () => undefined,
    );
    const previous = this.loop ?? Promise.resolve();
    this.loop = previous.then(() => this.read(generation, start));
  }

  private async lastEntryId(): Promise<string> {
    const [last] = (await this.writer.xrevrange(this.stream, '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last?.[0] ?? '0-0';
  }

  private async read(generation: number, start: Promise<string>): Promise<void> {
    let lastId: string;
    try {
      lastId = await start;
    } catch (error) {
      if (generation === this.generation)
        this.logger.error({ stream: this.stream, err: error }, 'live bus could not find where the stream ends; no listener will be called');
      return;
    }
    let failures = 0;
    while (generation === this.generation) {
      let reply: unknown;
      try {
        reply = await this.reader.xread('COUNT', this.batchCount, 'BLOCK', this.blockMs, 'STREAMS', this.stream, lastId);
        failures = 0;
      } catch (error) {
        if (generation !== this.generation) return;
        // Commands wait through reconnects, so an error here is Redis refusing XREAD (say, the key holds no stream).
        this.logger.error({ stream: this.stream, err: error }, 'live bus XREAD failed; retrying');
        await delay(Math.min(100 * 2 ** failures++, 5_000));
        continue;
      }
      for (const entry of streamEntries(reply)) {
        if (generation !== this.generation) return;
        lastId = entry[0];
        const batch = this.parse(entry);
        if (!batch) continue;
        for (const listener of this.listeners) {
          try {
            listener(batch.readings, batch.position);
          } catch (error) {
            this.logger.error({ stream: this.stream, position: batch.position, err: error }, 'live bus listener threw');
          }
        }
      }
    }
  }

  private parse([position, fields]: StreamEntry): BusEntry | undefined {
    const problem = (reason: string) => {
      this.logger.warn({ stream: this.stream, position, reason }, 'live bus skipped a malformed stream entry');
      return undefined;
    };
    const index = fields.findIndex((field, i) => i % 2 === 0 && field === 'r');
    const text = index >= 0 ? fields[index + 1] : undefined;
    if (text === undefined) return problem('no field r');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return problem('field r is not JSON');
    }
    if (!Array.isArray(value)) return problem('field r is not a JSON array');
    for (const [i, item] of value.entries()) {
      const reason = readingProblem(item);
      if (reason) return problem(`reading ${i}: ${reason}`);
    }
    return { position, readings: value as Reading[] };
  }
}

const quantities = new Set<string>(Object.values(Quantity));

/** What makes `value` not a `Reading`, or undefined when it is one. */
function readingProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const reading = value as Record<string, unknown>;
  for (const key of ['sensorId', 'gatewayId', 'tenant'] as const) {
    if (typeof reading[key] !== 'string') return `${key} is not a string`;
  }
  if (typeof reading.quantity !== 'string' || !quantities.has(reading.quantity))
    return `unknown quantity ${JSON.stringify(reading.quantity)}`;
  for (const key of ['time', 'value'] as const) {
    if (typeof reading[key] !== 'number' || !Number.isFinite(reading[key])) return `${key} is not a finite number`;
  }
  return undefined;
}

/** The entries of an `XREAD` reply for one stream: `[[key, entries]]` (RESP2 shape), or null on timeout. */
function streamEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const first: unknown = reply[0];
  if (Array.isArray(first)) return (first[1] ?? []) as StreamEntry[];
  // A RESP3 map flattened to [key, entries].
  return (reply[1] ?? []) as StreamEntry[];
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`live bus: ${name} must be a positive number, got ${value}`);
  return value;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
