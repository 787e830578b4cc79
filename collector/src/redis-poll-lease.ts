import { Redis } from 'ioredis';
import type { Logger } from '#log';
import type { PollLease } from './poll-lease.ts';

export interface RedisPollLeaseOptions {
  /** `redis://host:port[/db]` */
  url: string;
  logger: Logger;
  /** Prefix of the keys, one a gateway. Default `iot:poll:`. */
  prefix?: string;
}

/**
 * `PollLease` in Redis, shared by every collector: `SET <prefix><gatewayId> <holder> NX PX ms`.
 * Redis' own clock expires it, so the collectors' clocks do not matter. While Redis cannot be
 * reached no lease is given (a gateway is then skipped, not polled twice).
 */
export class RedisPollLease implements PollLease {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: RedisPollLeaseOptions) {
    this.prefix = options.prefix ?? 'iot:poll:';
    this.redis = new Redis(options.url, {
      connectionName: 'iot-poll-lease',
      maxRetriesPerRequest: 2,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    this.redis.on('error', (error: Error) => options.logger.debug({ err: error }, 'poll lease Redis connection error'));
  }

  async acquire(gatewayId: string, holder: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + gatewayId, holder, 'PX', Math.max(1, Math.ceil(ms)), 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {});
    this.redis.disconnect();
  }
}
