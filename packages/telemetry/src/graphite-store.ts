/**
 * The Graphite `TimeSeriesStore`: writes go to carbon (plaintext protocol over TCP, `CarbonWriter`),
 * reads to graphite-web's render API (`GraphiteRenderClient`). This file holds what the two share:
 * the metric paths, and how a `SeriesQuery` becomes a render request.
 *
 * Metric paths (public: dashboards, `aliasByNode` and `groupByNode` rely on them):
 *
 *     <prefix>.<tenant>.<gatewayId>.<nodeAddress>.<sensorIndex>.<quantity in lower case>
 *     iot.austin-summit.austin-gw1.12.0.co2
 *
 * for a reading of sensor `<gatewayId>.<nodeAddress>.<sensorIndex>`. Node 0 of the path is the
 * prefix, 1 the tenant, 2-4 the sensor id, 5 the quantity. Every part is `[A-Za-z0-9_-]+`, so no part
 * can contain a dot or a glob character; `write` rejects readings that do not fit. Reads name the
 * tenant and the sensor of each series (`SeriesKey`), so they ask for
 * `iot.<tenant>.<gatewayId>.<node>.<index>.*` (the quantity is the only glob: never `*` across
 * tenants) and map each returned series back to its key through its path.
 *
 * Time bounds. `SeriesQuery.from` and `until` are inclusive: the memory store answers the slots whose
 * start lies in [from, until]. Whisper answers the slots whose start lies in (from, until] (it fetches
 * from the slot after the one holding `from`), in whole seconds. So the render request carries
 * `from = ceil(from / 1 s) - 1` and `until = floor(until / 1 s)`: a slot start is a whole number of
 * seconds, and for any resolution R the first slot whisper returns is then the first multiple of R at
 * or after `from`, the last the last multiple of R at or before `until`. When no whole second lies in
 * [from, until] the answer is empty without asking (graphite-web refuses an empty range).
 *
 * Retention. Whisper reads a query from the finest archive that covers its `from`: keep queries within
 * the first archive's retention (e.g. `1s:6h`) for raw slots; older ranges come from rolled-up archives.
 */
import { CarbonWriter, type CarbonWriterOptions, type CarbonWriterStats } from './carbon-writer.ts';
import { GraphiteRenderClient, type GraphiteRenderOptions } from './graphite-render.ts';
import { Aggregate, type Point, type Reading } from './reading.ts';
import type { SeriesKey, SeriesQuery, TimeSeriesStore } from './store.ts';

/** Counters for health checks and benchmarks: the carbon writer's. */
export type GraphiteStoreStats = CarbonWriterStats;

/**
 * The carbon writer's options and the render client's (`timeoutMs` bounds both: each HTTP request,
 * each carbon connection attempt, and the final flush in `close`).
 */
export interface GraphiteStoreOptions extends CarbonWriterOptions, GraphiteRenderOptions {
  /** First node of every metric path. Default `iot`. */
  prefix?: string;
  /** How far back `latest` looks; keep it within the first retention archive. Default 6 h. */
  latestWindowSeconds?: number;
}

const PART = /^[A-Za-z0-9_-]+$/;
const SENSOR_ID = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const summarizeFunction: Record<Aggregate, string> = {
  [Aggregate.AVG]: 'avg',
  [Aggregate.MIN]: 'min',
  [Aggregate.MAX]: 'max',
  [Aggregate.SUM]: 'sum',
  [Aggregate.COUNT]: 'count',
  [Aggregate.LAST]: 'last',
};

/**
 * `TimeSeriesStore` on Graphite: a `CarbonWriter` for writes, a `GraphiteRenderClient` for reads,
 * joined by the metric paths. See the top of this file.
 */
export class GraphiteTimeSeriesStore implements TimeSeriesStore {
  private readonly prefix: string;
  private readonly latestWindowSeconds: number;
  private readonly carbon: CarbonWriter;
  private readonly graphite: GraphiteRenderClient;

  constructor(options: GraphiteStoreOptions) {
    this.prefix = options.prefix ?? 'iot';
    if (!PART.test(this.prefix)) throw new Error(`GraphiteTimeSeriesStore: prefix "${this.prefix}" must match ${PART}`);
    this.latestWindowSeconds = options.latestWindowSeconds ?? 6 * 3600;
    this.carbon = new CarbonWriter(options);
    this.graphite = new GraphiteRenderClient(options);
  }

  get stats(): GraphiteStoreStats {
    return this.carbon.stats;
  }

  /**
   * Resolves once the points are in the buffer (they are sent and, after a carbon restart, sent
   * again from there). While the buffer is full it waits for room, so a writer slows down to what
   * carbon takes instead of the process growing or dropping points.
   */
  async write(readings: readonly Reading[]): Promise<void> {
    if (this.carbon.isClosing) throw new Error('GraphiteTimeSeriesStore: write after close');
    return this.carbon.write(readings.map((reading) => this.line(reading)));
  }

  /**
   * Resolves once every point written before the call has left the buffer: carbon's socket
   * accepted it (points of the last `replayWindowMs` are still sent again if that connection
   * drops). What feeds the store from a durable log acknowledges there only after this.
   */
  flushed(): Promise<void> {
    return this.carbon.flushed();
  }

  async query(query: SeriesQuery): Promise<Point[][]> {
    if (query.everySeconds !== undefined && !(Number.isInteger(query.everySeconds) && query.everySeconds > 0)) {
      throw new Error(`GraphiteTimeSeriesStore: everySeconds must be a positive whole number, got ${query.everySeconds}`);
    }
    const from = Math.ceil(query.from / 1000) - 1;
    const until = Math.floor(query.until / 1000);
    const keys = readable(query.series);
    const found = new Map<string, Point[]>();
    if (keys.length && from < until) {
      const func = query.everySeconds ? summarizeFunction[query.aggregate ?? Aggregate.AVG] : undefined;
      const targets = keys.map((key) => {
        const glob = this.glob(key);
        return func ? `summarize(${glob}, "${query.everySeconds}s", "${func}")` : glob;
      });
      await this.render(targets, { from: String(from), until: String(until) }, found);
    }
    return query.series.map((key) => found.get(seriesName(key)) ?? []);
  }

  async latest(series: readonly SeriesKey[]): Promise<Array<Point | undefined>> {
    const keys = readable(series);
    const found = new Map<string, Point[]>();
    if (keys.length)
      await this.render(
        keys.map((key) => this.glob(key)),
        { from: `-${this.latestWindowSeconds}s`, until: 'now' },
        found,
      );
    return series.map((key) => found.get(seriesName(key))?.at(-1));
  }

  /**
   * Stops taking writes, sends what carbon takes within `timeoutMs`, then ends the socket. Writes
   * still waiting for room are rejected; points left over are logged as lost.
   */
  close(): Promise<void> {
    return this.carbon.close();
  }

  /** A reading as a line of carbon's plaintext protocol, or an error saying which part does not fit a path. */
  private line(reading: Reading): string {
    const what = () => `GraphiteTimeSeriesStore: cannot write reading of sensor ${JSON.stringify(reading.sensorId)}`;
    if (typeof reading.sensorId !== 'string' || !SENSOR_ID.test(reading.sensorId))
      throw new Error(`${what()}: the sensor id must be <gatewayId>.<nodeAddress>.<sensorIndex> of [A-Za-z0-9_-]`);
    if (typeof reading.tenant !== 'string' || !PART.test(reading.tenant))
      throw new Error(`${what()}: tenant ${JSON.stringify(reading.tenant)} must match ${PART}`);
    if (typeof reading.quantity !== 'string' || !PART.test(reading.quantity))
      throw new Error(`${what()}: quantity ${JSON.stringify(reading.quantity)} must match ${PART}`);
    if (typeof reading.value !== 'number' || !Number.isFinite(reading.value))
      throw new Error(`${what()}: value ${String(reading.value)} is not a finite number`);
    if (typeof reading.time !== 'number' || !Number.isFinite(reading.time) || reading.time < 0)
      throw new Error(`${what()}: time ${String(reading.time)} is not ms since the epoch`);
    // String(number) is the shortest text that reads back as the same double, so values arrive exact.
    return `${this.prefix}.${reading.tenant}.${reading.sensorId}.${reading.quantity.toLowerCase()} ${String(reading.value)} ${Math.floor(reading.time / 1000)}\n`;
  }

  /** The paths of one series: its tenant and sensor exactly, any quantity. */
  private glob({ tenant, sensorId }: SeriesKey): string {
    return `${this.prefix}.${tenant}.${sensorId}.*`;
  }

  /** Renders the targets; adds each series' points to `into`, under the key its path names. */
  private async render(targets: string[], range: { from: string; until: string }, into: Map<string, Point[]>): Promise<void> {
    for (const { path, points } of await this.graphite.render(targets, range)) {
      const name = seriesName(this.seriesKeyOf(path));
      const known = into.get(name);
      // One path per series is the rule; a sensor that changed quantity has several.
      into.set(name, known ? known.concat(points).sort((a, b) => a.time - b.time) : points);
    }
  }

  private seriesKeyOf(path: string): SeriesKey {
    const parts = path.split('.');
    if (parts.length !== 6 || parts[0] !== this.prefix) {
      throw new Error(
        `${this.graphite.where}: series ${JSON.stringify(path)} is not a path ${this.prefix}.<tenant>.<gateway>.<node>.<index>.<quantity>`,
      );
    }
    return { tenant: parts[1]!, sensorId: parts.slice(2, 5).join('.') };
  }
}

/** The keys a path can be made of (others have no series), each once. */
function readable(series: readonly SeriesKey[]): SeriesKey[] {
  const keys = new Map<string, SeriesKey>();
  for (const key of series) {
    if (typeof key.sensorId === 'string' && typeof key.tenant === 'string' && SENSOR_ID.test(key.sensorId) && PART.test(key.tenant))
      keys.set(seriesName(key), key);
  }
  return [...keys.values()];
}

/** A series' name in maps: its tenant and sensor id, as in the metric path. */
function seriesName({ tenant, sensorId }: SeriesKey): string {
  return `${tenant}.${sensorId}`;
}
