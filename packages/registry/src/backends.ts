import type { Logger } from '#log';
import { MemoryActuatorLog, RedisActuatorLog, type ActuatorLog } from './actuator-log.ts';
import { FileActuatorGrantStore, grantsFileOf, RedisActuatorGrantStore, type ActuatorGrantStore } from './actuator-grants.ts';
import { FileGatewayRegistry } from './file-registry.ts';
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from './idempotency-store.ts';
import { RedisGatewayRegistry } from './redis-registry.ts';
import type { GatewayRegistry } from './registry.ts';

/** Where the gateway registry and the idempotency store live: Redis when named, in-process defaults otherwise. */
export interface RegistryOptions {
  /** Redis of the registry (a hash) and of the idempotency store. */
  redisUrl?: string;
  /** Without Redis, the registry is this JSON file (in memory only when absent). */
  registryFile?: string;
}

/** REDIS_URL and REGISTRY_FILE (`defaults.registryFile` when unset); any reader of the environment with `optional`. */
export function registryOptionsFromEnv(
  env: { optional(name: string): string | undefined },
  defaults: { registryFile?: string } = {},
): RegistryOptions {
  return { redisUrl: env.optional('REDIS_URL'), registryFile: env.optional('REGISTRY_FILE') ?? defaults.registryFile };
}

/** The gateway registry: the Redis hash when Redis is named, else the JSON file (in memory without one). */
export async function openGatewayRegistry(options: RegistryOptions, logger: Logger): Promise<GatewayRegistry> {
  return options.redisUrl
    ? new RedisGatewayRegistry({ url: options.redisUrl, logger: logger.child({ component: 'registry' }) })
    : FileGatewayRegistry.open(options.registryFile);
}

/** Where mutation results are kept by idempotency key: Redis when named (shared by every API instance), memory otherwise. */
export function openIdempotencyStore(options: RegistryOptions, logger: Logger): IdempotencyStore {
  return options.redisUrl
    ? new RedisIdempotencyStore({ url: options.redisUrl, logger: logger.child({ component: 'idempotency' }) })
    : new MemoryIdempotencyStore();
}

/**
 * Tenants' grants on their actuators: Redis when named (every API instance sees a revocation at
 * once), else a JSON file beside the registry file (`registry.grants.json`), in memory without one.
 */
export async function openActuatorGrants(options: RegistryOptions, logger: Logger): Promise<ActuatorGrantStore> {
  return options.redisUrl
    ? new RedisActuatorGrantStore({ url: options.redisUrl, logger: logger.child({ component: 'actuator-grants' }) })
    : FileActuatorGrantStore.open(options.registryFile && grantsFileOf(options.registryFile));
}

/** Actuators' audit trails, states and events: Redis when named (shared by every API instance, kept across restarts), memory otherwise. */
export function openActuatorLog(options: RegistryOptions, logger: Logger): ActuatorLog {
  return options.redisUrl
    ? new RedisActuatorLog({ url: options.redisUrl, logger: logger.child({ component: 'actuator-log' }) })
    : new MemoryActuatorLog();
}
