import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { MemoryLiveBus, RedisLiveBus, type Reading } from '#telemetry';
import { eventually } from '../support/graphql.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

const reading = (sensorId: string, answerId: string, value: number): Reading => ({
  sensorId,
  gatewayId: 'gw',
  tenant: 't',
  quantity: 'TEMPERATURE' as Reading['quantity'],
  time: 1_700_000_000_000,
  value,
  answerId,
});

/**
 * The live bus keeps an answer's readings once, whoever publishes them and however often (an
 * answer redelivered after a broker restart, or seen by two collectors). The whole path, with
 * each part killed in turn, is `test/faults.test.ts`.
 */
describe('the live bus keeps an answer once', () => {
  let redis: RedisService;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await redis?.stop();
  });

  it('on Redis: once, whichever publisher has the answer and however often', async () => {
    const bus = new RedisLiveBus({ url: redis.url, logger: silentLogger, stream: 'iot:readings:exactly-once' });
    const other = new RedisLiveBus({ url: redis.url, logger: silentLogger, stream: bus.stream });
    closers.push(
      () => bus.close(),
      () => other.close(),
    );
    const seen: Reading[] = [];
    bus.subscribe((readings) => seen.push(...readings));
    await bus.listening();
    const batch = [reading('gw.1.0', 'answer-1', 1), reading('gw.2.0', 'answer-1', 2)];
    expect(await bus.publish(batch)).toBe(true);
    expect(await other.publish(batch)).toBe(false); // another collector, no shared memory with the first
    expect(await bus.publish(batch)).toBe(false);
    expect(await other.publish([reading('gw.1.0', 'answer-2', 3)])).toBe(true);
    await eventually(async () => seen.length === 3);
    expect(seen.map((r) => r.value)).toEqual([1, 2, 3]);
  });

  it('in memory: once, however often', async () => {
    const bus = new MemoryLiveBus();
    const seen: Reading[] = [];
    bus.subscribe((readings) => seen.push(...readings));
    expect(await bus.publish([reading('gw.1.0', 'answer-1', 1)])).toBe(true);
    expect(await bus.publish([reading('gw.1.0', 'answer-1', 1)])).toBe(false);
    expect(await bus.publish([reading('gw.1.0', 'answer-2', 2)])).toBe(true);
    expect(seen.map((r) => r.value)).toEqual([1, 2]);
  });
});
