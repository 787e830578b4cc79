import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  isInstantInBounds,
  MAX_DURATION_SECONDS,
  MAX_INSTANT_MS,
  MAX_TIMER_DELAY_MS,
  MIN_DURATION_SECONDS,
  MIN_INSTANT_MS,
  parseDuration,
  parseInstant,
  setLongTimeout,
} from '#kit';
import { MemoryTimeSeriesStore, summarize, type Reading, type SeriesKey } from '#telemetry';

const reading = (sensorId: string, time: number, value: number): Reading => ({
  sensorId,
  gatewayId: 'gw',
  tenant: 't',
  quantity: 'CO2',
  time,
  value,
});
const key = (sensorId: string, tenant = 't'): SeriesKey => ({ sensorId, tenant });

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
    const [series] = await store.query({ series: [key('a')], from: 0, until: 60_000 });
    expect(series).toEqual([
      { time: 0, value: 2 },
      { time: 10_000, value: 3 },
    ]);
  });

  it('answers in key order, with empty series for unknown sensors, and respects from/until', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1 });
    await store.write([reading('a', 1_000, 1), reading('b', 2_000, 2), reading('a', 5_000, 5)]);
    const series = await store.query({ series: [key('b'), key('missing'), key('a')], from: 2_000, until: 4_000 });
    expect(series).toEqual([[{ time: 2_000, value: 2 }], [], []]);
    expect(await store.latest([key('a'), key('missing')])).toEqual([{ time: 5_000, value: 5 }, undefined]);
  });

  it('forgets points older than its retention, in bounded memory', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1, retentionSeconds: 10 });
    for (let t = 0; t < 30; t++) await store.write([reading('a', t * 1000, t)]);
    const [series] = await store.query({ series: [key('a')], from: 0, until: 30_000 });
    expect(series!.map((p) => p.value)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });

  it('summarizes when asked for buckets', async () => {
    const store = new MemoryTimeSeriesStore({ resolutionSeconds: 1 });
    await store.write([reading('a', 0, 2), reading('a', 1_000, 4), reading('a', 60_000, 9)]);
    const [series] = await store.query({ series: [key('a')], from: 0, until: 120_000, everySeconds: 60, aggregate: 'AVG' });
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

  it('accepts durations from 1 s to 1 year and refuses others naming the bound', () => {
    expect(parseDuration('1s')).toBe(MIN_DURATION_SECONDS);
    expect(parseDuration('1y')).toBe(MAX_DURATION_SECONDS);
    expect(parseDuration('365d')).toBe(MAX_DURATION_SECONDS);
    expect(String(parseDuration('0s'))).toMatch(/must be longer than zero \(at least 1s\)/);
    for (const text of ['10y', '366d', '53w', '31536001s', '99999999999999999999999y']) {
      expect(String(parseDuration(text)), text).toMatch(/longer than the longest duration accepted, 1 year/);
    }
  });

  it('accepts instants within the years 1970-2100 and refuses others naming the bound', () => {
    const now = new Date('2026-11-24T12:00:00Z');
    expect(parseInstant('1970-01-01T00:00:00Z', now)).toEqual(new Date(MIN_INSTANT_MS));
    expect(parseInstant('2100-12-31T23:59:59.999Z', now)).toEqual(new Date(MAX_INSTANT_MS));
    expect(parseInstant('-56y', now)).toEqual(new Date(now.getTime() - 56 * 31_536_000_000));
    for (const text of [
      '-300000y',
      '-57y',
      '1969-12-31T23:59:59Z',
      '2101-01-01T00:00:00Z',
      '3000-01-01T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '-99999999999999999999999y',
    ]) {
      const parsed = parseInstant(text, now);
      expect(parsed, text).toBeInstanceOf(Error);
      expect(String(parsed), text).toMatch(/outside the instants accepted, the years 1970 to 2100|not a relative time/);
    }
    expect(isInstantInBounds(Number.NaN)).toBe(false);
  });

  it('quotes at most a short prefix of a refused input', () => {
    const hostile = `${'x'.repeat(100_000)}y`;
    for (const error of [
      parseDuration(hostile),
      parseInstant(hostile),
      parseInstant(`-${hostile}`),
      parseDuration(`5${'q'.repeat(1000)}`),
    ]) {
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message.length).toBeLessThan(200);
    }
    expect((parseInstant(`yesterday ${'and the day before '.repeat(5)}`) as Error).message).toMatch(
      /^"yesterday and the day before and the day\.\.\." is neither/,
    );
  });
});

describe('setLongTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('waits longer than 2^31-1 ms as a chain of timers, none armed past 2^31-1 ms', () => {
    vi.useFakeTimers();
    const armed: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((callback: () => void, delay?: number) => {
      armed.push(delay ?? 0);
      return real(callback, delay);
    }) as typeof setTimeout);
    const year = MAX_DURATION_SECONDS * 1000;
    let fired = 0;
    setLongTimeout(() => fired++, year);
    vi.advanceTimersByTime(year - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    expect(armed.length).toBe(Math.ceil(year / MAX_TIMER_DELAY_MS));
    expect(Math.max(...armed)).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
  });

  it('can be cleared, fires a negative delay on the next turn, and refuses NaN instead of spinning', () => {
    vi.useFakeTimers();
    let fired = 0;
    const pending = setLongTimeout(() => fired++, 3 * MAX_TIMER_DELAY_MS);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS + 5);
    pending.clear();
    vi.advanceTimersByTime(3 * MAX_TIMER_DELAY_MS);
    expect(fired).toBe(0);
    setLongTimeout(() => fired++, -5);
    vi.advanceTimersByTime(0);
    expect(fired).toBe(1);
    expect(() => setLongTimeout(() => fired++, Number.NaN)).toThrow(RangeError);
    expect(() => setLongTimeout(() => fired++, new Date('-300000y').getTime() - Date.now())).toThrow(/NaN/);
    expect(vi.getTimerCount()).toBe(0);
  });
});
