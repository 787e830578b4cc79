import { describe, expect, it } from 'vitest';
import { parseDuration, parseInstant } from '#kit';
import { MemoryTimeSeriesStore, summarize, type Reading } from '#telemetry';

const reading = (sensorId: string, time: number, value: number): Reading => ({ sensorId, gatewayId: 'gw', tenant: 't', quantity: 'CO2', time, value });

describe('summarize (Graphite semantics)', () => {
  const points = [
    { time: 0, value: 1 },
    { time: 30_000, value: 3 },
    { time: 60_000, value: 10 },
    { time: 185_000, value: 7 },
  ];

  it('buckets at multiples of every since the epoch and leaves empty buckets out', () => {
    expect(summarize(points, 60, 'AVG')).toEqual([
      { time: 0, value: 2 },
      { time: 60_000, value: 10 },
      { time: 180_000, value: 7 },
    ]);
  });

  it('computes every aggregate on the same buckets', () => {
    expect(summarize(points, 120, 'SUM').map((p) => p.value)).toEqual([14, 7]);
    expect(summarize(points, 120, 'MIN').map((p) => p.value)).toEqual([1, 7]);
    expect(summarize(points, 120, 'MAX').map((p) => p.value)).toEqual([10, 7]);
    expect(summarize(points, 120, 'COUNT').map((p) => p.value)).toEqual([3, 1]);
    expect(summarize(points, 120, 'LAST').map((p) => p.value)).toEqual([10, 7]);
  });
});

describe('MemoryTimeSeriesStore', () => {
  it('keeps one point per slot, the later write winning, like whisper', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 10 });
    await store.write([reading('a', 1_000, 1), reading('a', 9_000, 2), reading('a', 12_000, 3)]);
    const [series] = await store.query({ sensorIds: ['a'], from: 0, until: 60_000 });
    expect(series).toEqual([
      { time: 0, value: 2 },
      { time: 10_000, value: 3 },
    ]);
  });

  it('answers in key order, with empty series for unknown sensors, and respects from/until', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1 });
    await store.write([reading('a', 1_000, 1), reading('b', 2_000, 2), reading('a', 5_000, 5)]);
    const series = await store.query({ sensorIds: ['b', 'missing', 'a'], from: 2_000, until: 4_000 });
    expect(series).toEqual([[{ time: 2_000, value: 2 }], [], []]);
    expect(await store.latest(['a', 'missing'])).toEqual([{ time: 5_000, value: 5 }, undefined]);
  });

  it('forgets points older than its retention, in bounded memory', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1, retentionSeconds: 10 });
    for (let t = 0; t < 30; t++) await store.write([reading('a', t * 1000, t)]);
    const [series] = await store.query({ sensorIds: ['a'], from: 0, until: 30_000 });
    expect(series!.map((p) => p.value)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });

  it('summarizes when asked for buckets', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1 });
    await store.write([reading('a', 0, 2), reading('a', 1_000, 4), reading('a', 60_000, 9)]);
    const [series] = await store.query({ sensorIds: ['a'], from: 0, until: 120_000, everySeconds: 60, aggregate: 'AVG' });
    expect(series).toEqual([
      { time: 0, value: 3 },
      { time: 60_000, value: 9 },
    ]);
  });
});

describe('durations and instants', () => {
  it('parses Graphite-style durations', () => {
    expect(parseDuration('10s')).toBe(10);
    expect(parseDuration('5min')).toBe(300);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('2d')).toBe(172_800);
    expect(parseDuration('3 weeks')).toBe(1_814_400);
    expect(parseDuration('-5min')).toBeInstanceOf(Error);
    expect(String(parseDuration('5parsecs'))).toContain('unknown unit');
    expect(parseDuration('0s')).toBeInstanceOf(Error);
  });

  it('parses relative and absolute instants', () => {
    const now = new Date('2026-11-24T12:00:00Z');
    expect(parseInstant('-1h', now)).toEqual(new Date('2026-11-24T11:00:00Z'));
    expect(parseInstant('now', now)).toBe(now);
    expect(parseInstant('2026-01-01T00:00:00Z', now)).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(parseInstant('yesterday-ish', now)).toBeInstanceOf(Error);
  });
});
