import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { envConfig } from '#kit';
import { actuatorRateLimitFromEnv, MemoryActuatorRateLimit } from '../../subgraphs/devices/src/sources/actuator-rate-limit.ts';

describe('per-actuator command rate limit', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T12:00:00.000Z'));
  });
  afterEach(() => vi.useRealTimers());

  it('lets a burst through, then one command per interval, telling how long to wait', async () => {
    const limit = new MemoryActuatorRateLimit({ burst: 5, intervalMs: 10_000 });
    for (let i = 0; i < 5; i++) expect(await limit.take('gw.1.output0')).toBeUndefined();
    expect(await limit.take('gw.1.output0')).toBe(10_000);
    vi.advanceTimersByTime(4_000);
    expect(await limit.take('gw.1.output0')).toBe(6_000);
    vi.advanceTimersByTime(6_000);
    expect(await limit.take('gw.1.output0')).toBeUndefined();
    expect(await limit.take('gw.1.output0')).toBe(10_000);
  });

  it('counts each actuator apart: one relay switched often does not stop another', async () => {
    const limit = new MemoryActuatorRateLimit({ burst: 1, intervalMs: 1_000 });
    expect(await limit.take('gw.1.output0')).toBeUndefined();
    expect(await limit.take('gw.1.output0')).toBeGreaterThan(0);
    expect(await limit.take('gw.1.output1')).toBeUndefined();
    expect(await limit.take('gw.2.light0')).toBeUndefined();
  });

  it('refills to the burst, no more, after a long pause', async () => {
    const limit = new MemoryActuatorRateLimit({ burst: 2, intervalMs: 1_000 });
    expect(await limit.take('a')).toBeUndefined();
    vi.advanceTimersByTime(60_000);
    expect(await limit.take('a')).toBeUndefined();
    expect(await limit.take('a')).toBeUndefined();
    expect(await limit.take('a')).toBe(1_000);
  });
});

describe('actuator rate limit settings', () => {
  it('default to a burst of 5 and one command every 10 s, and refuse 0', () => {
    expect(actuatorRateLimitFromEnv(envConfig({}))).toEqual({ burst: 5, intervalMs: 10_000 });
    expect(actuatorRateLimitFromEnv(envConfig({ ACTUATOR_COMMAND_BURST: '2', ACTUATOR_COMMAND_INTERVAL_MS: '500' }))).toEqual({
      burst: 2,
      intervalMs: 500,
    });
    expect(() => actuatorRateLimitFromEnv(envConfig({ ACTUATOR_COMMAND_BURST: '0' }))).toThrow(/ACTUATOR_COMMAND_BURST/);
    expect(() => actuatorRateLimitFromEnv(envConfig({ ACTUATOR_COMMAND_INTERVAL_MS: 'soon' }))).toThrow(/ACTUATOR_COMMAND_INTERVAL_MS/);
  });
});
