import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Aggregate, type Reading, type SeriesKey, type TimeSeriesStore } from '#telemetry';
import type { Logger } from '#log';
import { sensorId } from '#registry';
import { seededRandom } from './random.ts';
import type { ScenarioNode } from './scenario.ts';
import { signalValue } from './signals.ts';

/** How far before its window a series' points count as history it has (see `backfillHistory`). */
const EXISTING_MARGIN_MS = 3_600_000;

/** A gateway whose sensors get history: its mesh as its simulated daemon has it, its owner now. */
export interface BackfillGateway {
  id: string;
  tenant: string;
  nodes: readonly ScenarioNode[];
}

export interface BackfillOptions {
  store: TimeSeriesStore;
  gateways: readonly BackfillGateway[];
  /** Car park capacities by `${gatewayId}:${nodeAddress}` (occupancy is bounded by them). */
  capacities?: ReadonlyMap<string, number>;
  /** How far back from `until`, in ms. */
  windowMs: number;
  /** History ends before this (ms): when the collector's first real readings began. */
  until: number;
  /**
   * Time between two points, in ms. Default 5 min: one point per slot of the stores' coarser
   * archives (the memory store's rollup is 10 min, Graphite's usual second retention 1 min), where
   * a query over the window is answered, instead of one per poll interval.
   */
  stepMs?: number;
  /** Seed of the noise (the scenario's). */
  seed: number;
  logger: Logger;
  /** Stops between batches (the platform is closing). */
  signal?: AbortSignal;
  /** Sensors probed and written together. Default 100. */
  batchSize?: number;
}

export interface BackfillResult {
  /** Sensors that got history. */
  filled: number;
  /** Sensors whose series already had points at the start of the window (a restart). */
  skipped: number;
  points: number;
  ms: number;
}

interface SensorToFill {
  key: SeriesKey;
  gatewayId: string;
  node: ScenarioNode;
  index: number;
}

/**
 * Writes plausible history for every sensor through the store, from the simulator's own day
 * curves (`signalValue`: CO2 and temperature by occupancy, rush-hour traffic, car parks filling),
 * one point every `stepMs` over `windowMs` before `until`, under each gateway's current tenant
 * (the series the collector writes and readers read).
 *
 * It never writes over a reading: each series is first asked for its points in the window, and
 * only the steps before the first bucket holding any point are filled (none when the series
 * already reaches back to the window's start, as after a restart on a persistent store). It also
 * stops a whole step before `until`, so no point shares a slot with the collector's first reading.
 * Counters (vehicles, pedestrians) count what passed during their step, so sums over buckets
 * match what the collector's readings add up to.
 */
export async function backfillHistory(options: BackfillOptions): Promise<BackfillResult> {
  const started = Date.now();
  const { store, logger, signal } = options;
  const step = options.stepMs ?? 300_000;
  const stepSeconds = step / 1000;
  const end = Math.floor(options.until / step) * step;
  const start = Math.ceil((options.until - options.windowMs) / step) * step;
  const random = seededRandom(options.seed ^ 0x5eed_ba11);
  const sensors: SensorToFill[] = options.gateways.flatMap((gateway) =>
    gateway.nodes.flatMap((node) =>
      node.sensors.map((_, index) => ({
        key: { sensorId: sensorId(gateway.id, node.address, index), tenant: gateway.tenant },
        gatewayId: gateway.id,
        node,
        index,
      })),
    ),
  );
  const result: BackfillResult = { filled: 0, skipped: 0, points: 0, ms: 0 };
  const batchSize = options.batchSize ?? 100;
  let lastLog = Date.now();
  for (let offset = 0; offset < sensors.length && start < end; offset += batchSize) {
    if (signal?.aborted) break;
    const batch = sensors.slice(offset, offset + batchSize);
    // The first step bucket of each series that holds a point already: fill only before it. Asked
    // from an hour before the window: a store's coarser archive (10 min, 1 h) aligns its first
    // bucket to its own slots, which may begin before the window (a restart's re-run).
    const existing = await store.query({
      series: batch.map((s) => s.key),
      from: start - EXISTING_MARGIN_MS,
      until: options.until,
      everySeconds: stepSeconds,
      aggregate: Aggregate.COUNT,
    });
    const readings: Reading[] = [];
    for (const [i, sensor] of batch.entries()) {
      const stop = Math.min(end, existing[i]?.[0]?.time ?? end);
      if (stop <= start) {
        result.skipped++;
        continue;
      }
      result.filled++;
      const spec = sensor.node.sensors[sensor.index]!;
      const capacity = options.capacities?.get(`${sensor.gatewayId}:${sensor.node.address}`);
      for (let time = start; time < stop; time += step) {
        readings.push({
          sensorId: sensor.key.sensorId,
          gatewayId: sensor.gatewayId,
          tenant: sensor.key.tenant,
          quantity: spec.quantity,
          ...(sensor.node.room ? { room: sensor.node.room } : {}),
          time,
          value: signalValue(spec.quantity, new Date(time), random(), {
            intervalSeconds: stepSeconds,
            ...(capacity === undefined ? {} : { capacity }),
          }),
        });
      }
    }
    if (readings.length) await store.write(readings);
    result.points += readings.length;
    // Start-up and live traffic go on meanwhile.
    await yieldToEventLoop();
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      logger.info({ sensors: offset + batch.length, of: sensors.length, points: result.points }, 'writing simulated history');
    }
  }
  result.ms = Date.now() - started;
  return result;
}
