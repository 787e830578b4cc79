/** What `bench/ingest.ts` finds at the end of the pipeline: points in Graphite, readings on the Redis bus. */
import { silentLogger } from '#log';
import { RedisLiveBus } from '#telemetry';

/** A failed render request; the end of the body holds the exception (graphite-web's error page). */
export class GraphiteError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(
      `graphite-web ${status}: ${body
        .replace(/<[^>]*>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(-400)}`,
    );
  }
}

/**
 * Non-null points of every series matching `pattern` between two epoch seconds, counted by
 * graphite-web itself: `scale(x, 0)` then `offset(1)` turns each point into 1 and keeps nulls
 * null, `sumSeries` adds them per slot.
 */
export async function countGraphitePoints(
  graphiteUrl: string,
  pattern: string,
  fromSeconds: number,
  untilSeconds: number,
): Promise<number> {
  const url = new URL('render', `${graphiteUrl}/`);
  url.searchParams.set('format', 'json');
  url.searchParams.set('from', String(fromSeconds));
  url.searchParams.set('until', String(untilSeconds));
  url.searchParams.set('target', `sumSeries(offset(scale(${pattern}, 0), 1))`);
  const response = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  if (!response.ok) throw new GraphiteError(response.status, await response.text());
  const series = (await response.json()) as Array<{ datapoints: Array<[number | null, number]> }>;
  let count = 0;
  for (const { datapoints } of series) for (const [value] of datapoints) count += value ?? 0;
  return count;
}

/**
 * Counts Graphite's points until carbon has created every whisper file (graphite-web sees a metric
 * only once its file exists): until the count reaches `expected` or stays the same three times.
 */
export async function settledGraphitePoints(
  graphiteUrl: string,
  pattern: string,
  fromSeconds: number,
  untilSeconds: number,
  expected: number,
  timeoutMs = 180_000,
) {
  const began = Date.now();
  let last = -1;
  let same = 0;
  let failures = 0;
  for (;;) {
    let count: number;
    try {
      count = await countGraphitePoints(graphiteUrl, pattern, fromSeconds, untilSeconds);
      failures = 0;
    } catch (error) {
      // graphite-web fails now and then (500) while carbon writes the same files: ask again.
      if (!(error instanceof GraphiteError && error.status >= 500) || ++failures > 5 || Date.now() - began > timeoutMs) throw error;
      process.stderr.write(`${error.message}; asking again\n`);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      continue;
    }
    same = count === last ? same + 1 : 0;
    last = count;
    if (count >= expected || same >= 2 || Date.now() - began > timeoutMs) return { points: count, settleMs: Date.now() - began };
    await new Promise((resolve) => setTimeout(resolve, 3_000));
  }
}

/** Readings in the batches the live bus' Redis stream got since `sinceMs` (Redis' clock). */
export async function countBusReadings(redisUrl: string, sinceMs: number): Promise<{ batches: number; readings: number }> {
  const bus = new RedisLiveBus({ url: redisUrl, logger: silentLogger });
  try {
    let position = `${sinceMs}-0`;
    let batches = 0;
    let readings = 0;
    for (;;) {
      const page = await bus.readRange(position, 5_000);
      for (const entry of page) readings += entry.readings.length;
      batches += page.length;
      const last = page.at(-1);
      if (!last || page.length < 5_000) return { batches, readings };
      position = last.position;
    }
  } finally {
    await bus.close();
  }
}
