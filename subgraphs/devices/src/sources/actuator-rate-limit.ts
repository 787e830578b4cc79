import { Redis } from 'ioredis';
import type { Logger } from '#log';

/**
 * How often one actuator may be commanded: a token bucket of `burst` commands, refilled one every
 * `intervalMs`. It protects the hardware (a relay is not switched 100 times a second), whoever
 * commands it: per actuator, not per caller.
 */
export interface ActuatorRateLimitSettings {
  /** Commands at once to one actuator. Default 5. */
  burst: number;
  /** One more command every this long (ms). Default 10 000. */
  intervalMs: number;
}

export const defaultActuatorRateLimit: ActuatorRateLimitSettings = { burst: 5, intervalMs: 10_000 };

/** ACTUATOR_COMMAND_BURST and ACTUATOR_COMMAND_INTERVAL_MS (both at least 1); any reader of the environment with `int`. */
export function actuatorRateLimitFromEnv(env: { int(name: string, fallback: number): number }): ActuatorRateLimitSettings {
  const burst = env.int('ACTUATOR_COMMAND_BURST', defaultActuatorRateLimit.burst);
  const intervalMs = env.int('ACTUATOR_COMMAND_INTERVAL_MS', defaultActuatorRateLimit.intervalMs);
  if (burst < 1) throw new Error(`ACTUATOR_COMMAND_BURST must be at least 1, got ${burst}`);
  if (intervalMs < 1) throw new Error(`ACTUATOR_COMMAND_INTERVAL_MS must be at least 1, got ${intervalMs}`);
  return { burst, intervalMs };
}

/** Takes one command from an actuator's bucket: undefined when allowed, else in how many ms to retry. */
export interface ActuatorRateLimit {
  take(actuatorId: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * The bucket as GCRA (the generic cell rate algorithm, as the router's rate limits): one number
 * per actuator, when its bucket would be full again were the command allowed (its theoretical
 * arrival time). A command is allowed while that is at most `burst - 1` intervals ahead.
 */
function gcra(stored: number | undefined, now: number, { burst, intervalMs }: ActuatorRateLimitSettings) {
  const tat = Math.max(stored ?? now, now);
  const retryAfterMs = tat - (burst - 1) * intervalMs - now;
  return retryAfterMs > 0
    ? { allowed: false as const, retryAfterMs: Math.ceil(retryAfterMs) }
    : { allowed: true as const, tat: tat + intervalMs };
}

/** The embedded default: buckets in this process's memory (one devices instance). */
export class MemoryActuatorRateLimit implements ActuatorRateLimit {
  readonly #arrivals = new Map<string, number>();
  #takes = 0;

  constructor(private readonly settings: ActuatorRateLimitSettings = defaultActuatorRateLimit) {}

  async take(actuatorId: string): Promise<number | undefined> {
    const now = Date.now();
    const decision = gcra(this.#arrivals.get(actuatorId), now, this.settings);
    if (!decision.allowed) return decision.retryAfterMs;
    this.#arrivals.set(actuatorId, decision.tat);
    // A bucket whose arrival time has passed is full: forgetting it changes nothing.
    if (++this.#takes % 10_000 === 0) for (const [id, tat] of this.#arrivals) if (tat <= now) this.#arrivals.delete(id);
    return undefined;
  }

  async close(): Promise<void> {
    this.#arrivals.clear();
  }
}

/**
 * GCRA in one script, so that two devices instances never both take an actuator's last command;
 * the clock is Redis' own (TIME), so instances' clocks need not agree. The key expires once the
 * bucket is full again.
 * KEYS[1]: the actuator's bucket; ARGV: burst, interval in ms. Returns 0 when allowed, else the ms to wait.
 */
const TAKE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - (burst - 1) * interval - now
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - now)
return 0
`;

export interface RedisActuatorRateLimitOptions {
  url: string;
  logger: Logger;
  settings?: ActuatorRateLimitSettings;
  /** Key prefix of the buckets. Default `iot:actuator-rate:`. */
  prefix?: string;
}

/**
 * Buckets in Redis, shared by every devices instance. When Redis fails, this instance's memory
 * buckets decide meanwhile (the hardware stays protected, at worst once per instance), and the
 * failure is logged at most once a minute.
 */
export class RedisActuatorRateLimit implements ActuatorRateLimit {
  readonly #redis: Redis;
  readonly #settings: ActuatorRateLimitSettings;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #fallback: MemoryActuatorRateLimit;
  #lastFailureLog = 0;

  constructor(options: RedisActuatorRateLimitOptions) {
    this.#settings = options.settings ?? defaultActuatorRateLimit;
    this.#prefix = options.prefix ?? 'iot:actuator-rate:';
    this.#logger = options.logger;
    this.#fallback = new MemoryActuatorRateLimit(this.#settings);
    this.#redis = new Redis(options.url, {
      connectionName: 'iot-actuator-rate-limit',
      retryStrategy: (times) => Math.min(50 * times, 1_000),
      // A command waits for its rate limit: not through Redis' reconnects.
      maxRetriesPerRequest: 1,
    });
    this.#redis.on('error', (error: Error) => this.#logger.debug({ err: error }, 'actuator rate limit Redis connection error'));
  }

  async take(actuatorId: string): Promise<number | undefined> {
    try {
      const wait = (await this.#redis.eval(
        TAKE_SCRIPT,
        1,
        this.#prefix + actuatorId,
        this.#settings.burst,
        this.#settings.intervalMs,
      )) as number;
      return wait > 0 ? wait : undefined;
    } catch (error) {
      if (Date.now() - this.#lastFailureLog > 60_000) {
        this.#lastFailureLog = Date.now();
        this.#logger.warn({ err: (error as Error).message }, 'actuator rate limits fall back to this instance while Redis fails');
      }
      return this.#fallback.take(actuatorId);
    }
  }

  async close(): Promise<void> {
    await this.#fallback.close();
    if (this.#redis.status === 'ready') await this.#redis.quit().catch(() => {});
    this.#redis.disconnect();
  }
}

/** Shared through Redis when the platform has one (several devices instances), in memory otherwise. */
export function openActuatorRateLimit(
  redisUrl: string | undefined,
  settings: ActuatorRateLimitSettings | undefined,
  logger: Logger,
): ActuatorRateLimit {
  return redisUrl
    ? new RedisActuatorRateLimit({ url: redisUrl, logger: logger.child({ component: 'actuator-rate-limit' }), settings })
    : new MemoryActuatorRateLimit(settings);
}
