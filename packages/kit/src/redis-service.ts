import type { ServiceToReach } from './startup.ts';

/** Redis at `url` (REDIS_URL), as a service to reach at start: the live bus, the registry and the idempotency store share it. */
export function redisService(url: string): ServiceToReach {
  return { variable: 'REDIS_URL', what: 'Redis', url, defaultPorts: { 'redis:': 6379, 'rediss:': 6379 } };
}
