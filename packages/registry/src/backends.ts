import type { Logger } from '#log';
import { MemoryActuatorLog, type ActuatorLog, type ActuatorLogOptions } from './actuator-log.ts';
import { actuatorLogFileOf, FileActuatorLog, type FileActuatorLogOptions } from './file-actuator-log.ts';
import { RedisActuatorLog } from './redis-actuator-log.ts';
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

/**
 * Actuators' audit trails, states and events, kept across restarts: Redis when named (shared by
 * every API instance), else a JSON-lines file beside the registry file
 * (`registry.actuators.jsonl`, read back in the background: its calls wait for it), in memory
 * only without one. `limits`: the log's bounds (and the file's compaction), its defaults when absent.
 */
export function openActuatorLog(
  options: RegistryOptions,
  logger: Logger,
  limits: ActuatorLogOptions & Pick<FileActuatorLogOptions, 'compactAfterLines'> = {},
): ActuatorLog {
  const child = logger.child({ component: 'actuator-log' });
  if (options.redisUrl) return new RedisActuatorLog({ url: options.redisUrl, logger: child, ...limits });
  if (options.registryFile) return new FileActuatorLog({ path: actuatorLogFileOf(options.registryFile), logger: child, ...limits });
  return new MemoryActuatorLog(limits);
}
