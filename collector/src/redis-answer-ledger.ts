import { Redis } from 'ioredis';
import type { Logger } from '#log';
import type { AnswerLedger } from './answer-ledger.ts';

export interface RedisAnswerLedgerOptions {
  /** `redis://host:port[/db]` */
  url: string;
  logger: Logger;
  /** Prefix of the keys, one a msgId. Default `iot:answered:`. */
  prefix?: string;
}

/**
 * `AnswerLedger` in Redis, shared by every collector and kept across their restarts: one key per
 * msgId, set with `SET NX PX` (only the first setter succeeds; Redis forgets it after the TTL), and
 * `done` once its readings are on the bus.
 * The connection reconnects on its own; a call made while Redis is unreachable waits through about
 * 20 reconnect attempts before it fails (the collector then retries it).
 */
export class RedisAnswerLedger implements AnswerLedger {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: RedisAnswerLedgerOptions) {
    this.prefix = options.prefix ?? 'iot:answered:';
    this.redis = new Redis(options.url, {
      connectionName: 'iot-answer-ledger',
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    this.redis.on('error', (error: Error) => options.logger.debug({ err: error }, 'answer ledger Redis connection error'));
  }

  async firstUse(msgId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + msgId, 'claimed', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
  }

  async done(msgId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.prefix + msgId, 'done', 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async isDone(msgId: string): Promise<boolean> {
    return (await this.redis.get(this.prefix + msgId)) === 'done';
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {});
    this.redis.disconnect();
  }
}
