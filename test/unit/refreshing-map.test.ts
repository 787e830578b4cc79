import { describe, expect, it } from 'vitest';
import { RefreshingMap } from '../../packages/iqrf/src/refreshing-map.ts';

/** A load the test resolves or rejects by hand, counting how often it was started. */
function manualLoads<V>() {
  const pending: Array<{ resolve: (value: V) => void; reject: (error: Error) => void }> = [];
  return {
    pending,
    load: () => new Promise<V>((resolve, reject) => pending.push({ resolve, reject })),
  };
}

describe('RefreshingMap (the mesh catalogue cache)', () => {
  it('runs one refresh per key at a time, and keeps its value', async () => {
    const map = new RefreshingMap<string, number>();
    const { pending, load } = manualLoads<number>();
    const kept: number[] = [];
    const first = map.refresh('gw', load, (v) => kept.push(v));
    const second = map.refresh('gw', load);
    expect(second).toBe(first);
    expect(pending).toHaveLength(1);
    pending[0]!.resolve(1);
    await expect(first).resolves.toBe(1);
    expect(map.get('gw')).toBe(1);
    expect(kept).toEqual([1]);
    // Settled: the next refresh loads again.
    void map.refresh('gw', load);
    expect(pending).toHaveLength(2);
  });

  it('keeps nothing of a refresh started before an invalidation, and is stale until a later one succeeds', async () => {
    const map = new RefreshingMap<string, number>();
    map.set('gw', 1);
    const { pending, load } = manualLoads<number>();
    const before = map.refresh('gw', load);
    map.invalidate('gw');
    expect(map.isStale('gw')).toBe(true);
    expect(map.get('gw')).toBe(1); // still there, as a fallback
    const after = map.refresh('gw', load);
    expect(after).not.toBe(before);
    pending[0]!.resolve(2);
    await expect(before).resolves.toBe(2); // its waiter still gets it
    expect(map.get('gw')).toBe(1);
    expect(map.isStale('gw')).toBe(true);
    pending[1]!.reject(new Error('daemon down'));
    await expect(after).rejects.toThrow('daemon down');
    expect(map.isStale('gw')).toBe(true);
    const third = map.refresh('gw', load);
    pending[2]!.resolve(3);
    await third;
    expect(map.get('gw')).toBe(3);
    expect(map.isStale('gw')).toBe(false);
  });

  it('forgets a deleted key, even what a refresh running then brings', async () => {
    const map = new RefreshingMap<string, number>();
    const { pending, load } = manualLoads<number>();
    const running = map.refresh('gw', load);
    map.delete('gw');
    pending[0]!.resolve(7);
    await expect(running).resolves.toBe(7);
    expect(map.get('gw')).toBeUndefined();
    expect(map.isStale('gw')).toBe(false);
  });

  it('keeps a value learnt elsewhere without touching a running refresh', async () => {
    const map = new RefreshingMap<string, number>();
    const { pending, load } = manualLoads<number>();
    const running = map.refresh('gw', load);
    map.set('gw', 5);
    expect(map.get('gw')).toBe(5);
    expect(map.refresh('gw', load)).toBe(running);
    pending[0]!.resolve(6);
    await running;
    expect(map.get('gw')).toBe(6);
  });
});
