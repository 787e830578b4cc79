import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from '#kit';
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

/** The bucket of `settings` as a `RateLimitStore` counts it: `burst` commands a `burst` intervals. */
async function takeCommand(
  store: RateLimitStore,
  key: string,
  { burst, intervalMs }: ActuatorRateLimitSettings,
): Promise<number | undefined> {
  const decision = await store.take(key, burst, burst * intervalMs);
  return decision.allowed ? undefined : decision.retryAfterMs;
}

/** The embedded default: buckets in this process's memory (one devices instance). */
export class MemoryActuatorRateLimit implements ActuatorRateLimit {
  readonly #store = new MemoryRateLimitStore();

  constructor(private readonly settings: ActuatorRateLimitSettings = defaultActuatorRateLimit) {}

  take(actuatorId: string): Promise<number | undefined> {
    return takeCommand(this.#store, actuatorId, this.settings);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}

export interface RedisActuatorRateLimitOptions {
  url: string;
  logger: Logger;
  settings?: ActuatorRateLimitSettings;
  /** Key prefix of the buckets. Default `iot:actuator-rate:`. */
  prefix?: string;
}

/**
 * Buckets in Redis (the router's GCRA script, `RedisRateLimitStore`), shared by every devices
 * instance. When Redis fails, this instance's memory buckets decide meanwhile (the hardware stays
 * protected, at worst once per instance), and the failure is logged at most once a minute.
 */
export class RedisActuatorRateLimit implements ActuatorRateLimit {
  readonly #store: RedisRateLimitStore;
  readonly #fallback: MemoryActuatorRateLimit;
  readonly #settings: ActuatorRateLimitSettings;
  readonly #logger: Logger;
  #lastFailureLog = 0;

  constructor(options: RedisActuatorRateLimitOptions) {
    this.#settings = options.settings ?? defaultActuatorRateLimit;
    this.#logger = options.logger;
    this.#fallback = new MemoryActuatorRateLimit(this.#settings);
    this.#store = new RedisRateLimitStore({
      url: options.url,
      prefix: options.prefix ?? 'iot:actuator-rate:',
      onError: (error) => this.#logger.debug({ err: error }, 'actuator rate limit Redis connection error'),
    });
  }

  async take(actuatorId: string): Promise<number | undefined> {
    try {
      return await takeCommand(this.#store, actuatorId, this.#settings);
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
    await this.#store.close();
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
