import { Redis } from 'ioredis';

/** What one request taken from a bucket got. */
export interface RateLimitDecision {
  allowed: boolean;
  /** The bucket's size: requests a period. */
  limit: number;
  /** Requests left at once after this one. */
  remaining: number;
  /** Until the bucket is full again, in ms. */
  resetMs: number;
  /** When refused: until one request is allowed again, in ms; 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Buckets of requests by key: `limit` requests a `periodMs`, all of them at once at most (a
 * token bucket of `limit` tokens, refilled evenly over the period). Counted with GCRA (the
 * generic cell rate algorithm of ATM networks, as redis-cell and `throttled` do): one number per
 * key, the theoretical arrival time of the next request, so a check is a single read and write.
 * The router's request budgets and the devices subgraph's per-actuator command limits use it.
 */
export interface RateLimitStore {
  take(key: string, limit: number, periodMs: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

/** A request this early is still allowed: arrival times carry rounding errors of float sums. */
const EARLY_MS = 1;

/** The GCRA step: from the stored arrival time (or none) and now, the new one and the decision. */
function gcra(
  stored: number | undefined,
  now: number,
  limit: number,
  periodMs: number,
): { tat: number | undefined; decision: RateLimitDecision } {
  const interval = periodMs / limit;
  const tat = Math.max(stored ?? now, now);
  const next = tat + interval;
  const allowAt = next - periodMs;
  if (allowAt - now >= EARLY_MS) return { tat: undefined, decision: decision(false, limit, periodMs, interval, tat - now, allowAt - now) };
  return { tat: next, decision: decision(true, limit, periodMs, interval, next - now, 0) };
}

function decision(
  allowed: boolean,
  limit: number,
  periodMs: number,
  interval: number,
  resetMs: number,
  retryAfterMs: number,
): RateLimitDecision {
  const remaining = Math.max(0, Math.floor((periodMs - resetMs) / interval));
  return { allowed, limit, remaining, resetMs: Math.ceil(resetMs), retryAfterMs: Math.ceil(retryAfterMs) };
}

/** The embedded default: buckets in this process's memory (one instance of the service). */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #arrivals = new Map<string, number>();
  #takes = 0;

  async take(key: string, limit: number, periodMs: number): Promise<RateLimitDecision> {
    const now = Date.now();
    const { tat, decision } = gcra(this.#arrivals.get(key), now, limit, periodMs);
    if (tat !== undefined) this.#arrivals.set(key, tat);
    // A bucket whose arrival time has passed is full: forgetting it changes nothing.
    if (++this.#takes % 10_000 === 0) for (const [k, t] of this.#arrivals) if (t <= now) this.#arrivals.delete(k);
    return decision;
  }

  async close(): Promise<void> {
    this.#arrivals.clear();
  }
}

/**
 * GCRA in one script, so that concurrent requests to several instances (routers, devices
 * subgraphs) never both take the last token; the clock is Redis' own (TIME), so their clocks need
 * not agree. The arrival time
 * expires when the bucket is full again.
 * KEYS[1]: the bucket; ARGV: limit, period in ms. Returns {allowed 0|1, resetMs, retryAfterMs}.
 */
const TAKE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local nextTat = tat + interval
local allowAt = nextTat - period
if allowAt - now >= 1 then return {0, math.ceil(tat - now), math.ceil(allowAt - now)} end
redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.ceil(nextTat - now))
return {1, math.ceil(nextTat - now), 0}
`;

type RedisWithTake = Redis & { rateLimitTake(key: string, limit: number, periodMs: number): Promise<[number, number, number]> };

export interface RedisRateLimitStoreOptions {
  url: string;
  /** Prefix of the buckets' keys. Default `iot:ratelimit:`. */
  prefix?: string;
  /** A command that takes longer fails (and the caller decides). Default 500 ms. */
  commandTimeoutMs?: number;
  onError?: (error: Error) => void;
}

/** Buckets in Redis, shared by every instance: the limits hold across all of them. */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: RedisWithTake;
  readonly #prefix: string;

  constructor(options: RedisRateLimitStoreOptions) {
    this.#prefix = options.prefix ?? 'iot:ratelimit:';
    const redis = new Redis(options.url, {
      connectionName: 'iot-rate-limit',
      // A request waits for a check at most this long: rather let it through than hang.
      commandTimeout: options.commandTimeoutMs ?? 500,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    redis.on('error', (error: Error) => options.onError?.(error));
    redis.defineCommand('rateLimitTake', { numberOfKeys: 1, lua: TAKE });
    this.#redis = redis as RedisWithTake;
  }

  async take(key: string, limit: number, periodMs: number): Promise<RateLimitDecision> {
    const [allowed, resetMs, retryAfterMs] = await this.#redis.rateLimitTake(this.#prefix + key, limit, periodMs);
    return decision(allowed === 1, limit, periodMs, periodMs / limit, resetMs, retryAfterMs);
  }

  async close(): Promise<void> {
    if (this.#redis.status === 'ready') await this.#redis.quit().catch(() => {});
    this.#redis.disconnect();
  }
}
