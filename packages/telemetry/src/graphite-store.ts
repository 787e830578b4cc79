/**
 * The Graphite `TimeSeriesStore`: writes go to carbon (plaintext protocol over TCP), reads to
 * graphite-web's render API.
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
import { connect, type Socket } from 'node:net';
import type { Logger } from '#log';
import { Aggregate, type Point, type Reading } from './reading.ts';
import type { SeriesKey, SeriesQuery, TimeSeriesStore } from './store.ts';

export interface GraphiteStoreOptions {
  /** graphite-web base URL, e.g. `http://127.0.0.1:8080` (a path prefix such as `/graphite` is kept). */
  graphiteUrl: string;
  /** carbon's plaintext line receiver, e.g. `tcp://127.0.0.1:2003`. */
  carbonUrl: string;
  logger: Logger;
  /** First node of every metric path. Default `iot`. */
  prefix?: string;
  /** Points held while carbon is slow or down; `write` waits when it is full. Default 100 000. */
  maxBufferedPoints?: number;
  /** How long points may wait to be sent together. Default 100 ms. */
  flushIntervalMs?: number;
  fetch?: typeof fetch;
  /** Per HTTP request, per carbon connection attempt, and for the final flush in `close`. Default 10 s. */
  timeoutMs?: number;
  /** How far back `latest` looks; keep it within the first retention archive. Default 6 h. */
  latestWindowSeconds?: number;
  /** Reconnect delays: doubling from `min` to `max`. Default 100 ms to 2 s. */
  reconnectDelayMs?: { min: number; max: number };
  /**
   * Points sent during this long before a connection drops are sent again on reconnect (at most
   * `maxBufferedPoints` of them). The plaintext protocol has no acknowledgement, and carbon-cache
   * 1.1 loses what it has not yet written to whisper when it stops: its writer thread drains the
   * cache, sleeps a second, and exits with the reactor without a last drain. Sending a point twice
   * is harmless: in order, the slot ends with the same value. Default 5 s.
   */
  replayWindowMs?: number;
}

/** Counters for health checks and benchmarks. */
export interface GraphiteStoreStats {
  /** Points waiting for the socket. */
  buffered: number;
  /** Points the socket accepted (replayed points count again). */
  written: number;
  /** Points queued again after a connection dropped. */
  replayed: number;
  /** Connections opened after the first one. */
  reconnects: number;
  connected: boolean;
}

/** One series of graphite-web's JSON render format. */
interface RenderSeries {
  target: string;
  tags?: Record<string, unknown>;
  datapoints: Array<[number | null, number]>;
}

const PART = /^[A-Za-z0-9_-]+$/;
const SENSOR_ID = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Lines per socket write. */
const BATCH_LINES = 5_000;
/** Render URLs longer than this are split; proxies and graphite-web's runserver accept 8 KB. */
const MAX_URL_LENGTH = 8_000;

const summarizeFunction: Record<Aggregate, string> = {
  [Aggregate.AVG]: 'avg',
  [Aggregate.MIN]: 'min',
  [Aggregate.MAX]: 'max',
  [Aggregate.SUM]: 'sum',
  [Aggregate.COUNT]: 'count',
  [Aggregate.LAST]: 'last',
};

/** `TimeSeriesStore` on Graphite: carbon for writes, graphite-web for reads. See the top of this file. */
export class GraphiteTimeSeriesStore implements TimeSeriesStore {
  private readonly prefix: string;
  private readonly maxBuffered: number;
  private readonly flushIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly latestWindowSeconds: number;
  private readonly reconnectDelay: { min: number; max: number };
  private readonly replayWindowMs: number;
  private readonly fetch: typeof fetch;
  private readonly logger: Logger;
  private readonly renderUrl: URL;
  private readonly carbon: { host: string; port: number };

  /** Lines not yet accepted by the socket: `queue[head..]`. */
  private queue: string[] = [];
  private head = 0;
  /** Lines recently accepted by the socket, oldest first, for replay after a drop. */
  private sent: Array<{ lines: string[]; at: number }> = [];
  private sentCount = 0;

  private socket: Socket | undefined;
  private connected = false;
  /** Set after a failed connection attempt, so that an outage is logged once, not per retry. */
  private unreachable = false;
  private connections = 0;
  /** Bumped on every drop, so that callbacks of an old socket are ignored. */
  private generation = 0;
  private writing = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private closing = false;
  /** Serializes `write` calls so that points keep their order when some wait for room. */
  private tail: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  private readonly counters = { written: 0, replayed: 0, reconnects: 0 };

  constructor(options: GraphiteStoreOptions) {
    this.prefix = options.prefix ?? 'iot';
    if (!PART.test(this.prefix)) throw new Error(`GraphiteTimeSeriesStore: prefix "${this.prefix}" must match ${PART}`);
    this.maxBuffered = options.maxBufferedPoints ?? 100_000;
    if (!(this.maxBuffered >= 1)) throw new Error('GraphiteTimeSeriesStore: maxBufferedPoints must be at least 1');
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.latestWindowSeconds = options.latestWindowSeconds ?? 6 * 3600;
    this.reconnectDelay = options.reconnectDelayMs ?? { min: 100, max: 2_000 };
    this.backoffMs = this.reconnectDelay.min;
    this.replayWindowMs = options.replayWindowMs ?? 5_000;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.logger = options.logger;
    this.renderUrl = new URL('render', options.graphiteUrl.endsWith('/') ? options.graphiteUrl : `${options.graphiteUrl}/`);
    this.carbon = parseCarbonUrl(options.carbonUrl);
  }

  get stats(): GraphiteStoreStats {
    return {
      buffered: this.buffered,
      written: this.counters.written,
      replayed: this.counters.replayed,
      reconnects: this.counters.reconnects,
      connected: this.connected,
    };
  }

  /**
   * Resolves once the points are in the buffer (they are sent and, after a carbon restart, sent
   * again from there). While the buffer is full it waits for room, so a writer slows down to what
   * carbon takes instead of the process growing or dropping points.
   */
  async write(readings: readonly Reading[]): Promise<void> {
    if (this.closing) throw new Error('GraphiteTimeSeriesStore: write after close');
    const lines = readings.map((reading) => this.line(reading));
    const mine = this.tail.then(() => this.enqueue(lines));
    this.tail = mine.catch(() => undefined);
    return mine;
  }

  /**
   * Resolves once every point written before the call has left the buffer: carbon's socket
   * accepted it (points of the last `replayWindowMs` are still sent again if that connection
   * drops). What feeds the store from a durable log acknowledges there only after this.
   */
  async flushed(): Promise<void> {
    await this.tail;
    while (this.buffered > 0) {
      if (this.closing && !this.socket && !this.reconnectTimer)
        throw new Error(`GraphiteTimeSeriesStore: closed with ${this.buffered} points not sent`);
      this.ensureConnection();
      this.schedulePump(0);
      await this.progress(this.timeoutMs);
    }
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
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const deadline = Date.now() + this.timeoutMs;
    while (this.buffered > 0 && Date.now() < deadline) {
      this.ensureConnection();
      this.schedulePump(0);
      await this.progress(deadline - Date.now());
    }
    if (this.buffered > 0) this.logger.warn({ lost: this.buffered }, 'Graphite: closing with points carbon did not take');
    for (const wake of this.waiters.splice(0)) wake();
    clearTimeout(this.flushTimer);
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.connected = false;
    this.generation++;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => socket.destroy(), 1_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.end();
      });
    }
  }

  // --- writes -----------------------------------------------------------------------------------

  private get buffered(): number {
    return this.queue.length - this.head;
  }

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

  private async enqueue(lines: string[]): Promise<void> {
    let next = 0;
    while (next < lines.length) {
      if (this.closing) throw new Error(`GraphiteTimeSeriesStore: closed with ${lines.length - next} points of this write not buffered`);
      const room = this.maxBuffered - this.buffered;
      if (room <= 0) {
        this.ensureConnection();
        await this.progress();
        continue;
      }
      const take = Math.min(room, lines.length - next);
      for (let i = next; i < next + take; i++) this.queue.push(lines[i]!);
      next += take;
      this.ensureConnection();
      this.schedulePump(this.buffered >= BATCH_LINES || room === take ? 0 : this.flushIntervalMs);
    }
  }

  /** Resolves on the next sent batch, drop, or close (or after `timeoutMs`). */
  private progress(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined)
        timer = setTimeout(
          () => {
            this.waiters = this.waiters.filter((waiter) => waiter !== wake);
            resolve();
          },
          Math.max(0, timeoutMs),
        );
      this.waiters.push(wake);
    });
  }

  private wakeWaiters(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  private schedulePump(delayMs: number): void {
    if (!this.connected || this.writing) return;
    if (delayMs === 0) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.pump();
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.pump();
      }, delayMs);
    }
  }

  /** Sends one batch; the lines leave the buffer only when the socket has accepted them. */
  private pump(): void {
    const socket = this.socket;
    if (!socket || !this.connected || this.writing || this.buffered === 0) return;
    const lines = this.queue.slice(this.head, this.head + BATCH_LINES);
    const generation = this.generation;
    this.writing = true;
    socket.write(lines.join(''), (error) => {
      if (generation !== this.generation) return;
      this.writing = false;
      if (error) return; // the socket's 'close' queues a reconnect; the lines are still buffered
      this.head += lines.length;
      this.counters.written += lines.length;
      this.remember(lines);
      if (this.head > 10_000 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.wakeWaiters();
      if (this.buffered > 0) this.schedulePump(this.buffered >= BATCH_LINES || this.closing ? 0 : this.flushIntervalMs);
    });
  }

  private remember(lines: string[]): void {
    if (this.replayWindowMs <= 0) return;
    const now = Date.now();
    this.sent.push({ lines, at: now });
    this.sentCount += lines.length;
    while (this.sent.length && (this.sent[0]!.at < now - this.replayWindowMs || this.sentCount > this.maxBuffered)) {
      this.sentCount -= this.sent.shift()!.lines.length;
    }
  }

  private ensureConnection(): void {
    if (this.socket || this.reconnectTimer || (this.closing && this.buffered === 0)) return;
    const socket = connect({ host: this.carbon.host, port: this.carbon.port });
    const generation = this.generation;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.setTimeout(this.timeoutMs, () => {
      if (!this.connected || generation !== this.generation) socket.destroy(new Error(`no connection within ${this.timeoutMs} ms`));
    });
    socket.once('connect', () => {
      if (generation !== this.generation) return;
      socket.setTimeout(0);
      this.connected = true;
      this.unreachable = false;
      if (this.connections++ > 0) this.counters.reconnects++;
      this.backoffMs = this.reconnectDelay.min;
      this.logger.info({ carbon: `${this.carbon.host}:${this.carbon.port}`, buffered: this.buffered }, 'Graphite: connected to carbon');
      this.schedulePump(0);
    });
    // carbon closed its side: stop writing at once rather than into a socket nobody reads.
    socket.once('end', () => this.dropped(socket, generation));
    socket.on('error', (error) => {
      if (this.connected || !this.unreachable)
        this.logger.warn({ err: error, buffered: this.buffered }, 'Graphite: carbon connection failed');
      else this.logger.debug({ err: error }, 'Graphite: still cannot connect to carbon');
      if (!this.connected) this.unreachable = true;
    });
    socket.once('close', () => this.dropped(socket, generation));
  }

  private dropped(socket: Socket, generation: number): void {
    socket.destroy();
    if (generation !== this.generation) return;
    this.generation++;
    const wasConnected = this.connected;
    this.socket = undefined;
    this.connected = false;
    this.writing = false;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (wasConnected && this.sentCount > 0) {
      const replay = this.sent.flatMap((batch) => batch.lines);
      this.queue = replay.concat(this.queue.slice(this.head));
      this.head = 0;
      this.counters.replayed += replay.length;
    }
    this.sent = [];
    this.sentCount = 0;
    if (wasConnected) this.logger.warn({ buffered: this.buffered }, 'Graphite: carbon connection lost, reconnecting');
    this.wakeWaiters();
    if (this.closing && this.buffered === 0) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.reconnectDelay.max);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.buffered > 0) this.ensureConnection();
    }, delay);
  }

  // --- reads ------------------------------------------------------------------------------------

  /** The paths of one series: its tenant and sensor exactly, any quantity. */
  private glob({ tenant, sensorId }: SeriesKey): string {
    return `${this.prefix}.${tenant}.${sensorId}.*`;
  }

  /** Renders the targets in as few requests as fit the URL limit; adds each series' points to `into`. */
  private async render(targets: string[], range: { from: string; until: string }, into: Map<string, Point[]>): Promise<void> {
    const base = new URL(this.renderUrl);
    base.searchParams.set('format', 'json');
    base.searchParams.set('noNullPoints', 'true');
    base.searchParams.set('from', range.from);
    base.searchParams.set('until', range.until);
    // Targets per request, so that the URL stays under MAX_URL_LENGTH ('&' + the encoded pair each).
    const groups: string[][] = [];
    let length = Infinity;
    for (const target of targets) {
      const pair = new URLSearchParams({ target }).toString().length + 1;
      if (length + pair > MAX_URL_LENGTH) {
        groups.push([]);
        length = base.href.length;
      }
      groups.at(-1)!.push(target);
      length += pair;
    }
    const urls = groups.map((group) => {
      const url = new URL(base);
      for (const target of group) url.searchParams.append('target', target);
      return url;
    });
    const answers = await Promise.all(urls.map((request) => this.get(request)));
    for (const series of answers.flat()) {
      const name = seriesName(this.seriesKeyOf(series));
      const points: Point[] = [];
      for (const [value, time] of series.datapoints) if (value !== null) points.push({ time: time * 1000, value });
      const known = into.get(name);
      // One path per series is the rule; a sensor that changed quantity has several.
      into.set(name, known ? known.concat(points).sort((a, b) => a.time - b.time) : points);
    }
  }

  private async get(url: URL): Promise<RenderSeries[]> {
    const where = `Graphite ${url.pathname}`;
    let response: Response;
    try {
      response = await this.fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
    } catch (error) {
      throw new Error(`${where}: request failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) throw new Error(`${where}: HTTP ${response.status} ${response.statusText}: ${text.slice(0, 300)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(
        `${where}: the answer is not JSON (content-type ${response.headers.get('content-type') ?? 'none'}): ${JSON.stringify(text.slice(0, 200))}`,
      );
    }
    return validateRenderSeries(body, where);
  }

  private seriesKeyOf(series: RenderSeries): SeriesKey {
    const name =
      typeof series.tags?.name === 'string' ? series.tags.name : (/^summarize\(([^,]+),/.exec(series.target)?.[1] ?? series.target);
    const parts = name.split('.');
    if (parts.length !== 6 || parts[0] !== this.prefix) {
      throw new Error(
        `Graphite ${this.renderUrl.pathname}: series ${JSON.stringify(name)} is not a path ${this.prefix}.<tenant>.<gateway>.<node>.<index>.<quantity>`,
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

/** Checks graphite-web's JSON render answer: `[{target, tags?, datapoints: [[value|null, epochSeconds]]}]`. */
function validateRenderSeries(body: unknown, where: string): RenderSeries[] {
  if (!Array.isArray(body)) throw new Error(`${where}: expected a JSON array of series, got ${describe(body)}`);
  body.forEach((series: unknown, i) => {
    if (typeof series !== 'object' || series === null || Array.isArray(series))
      throw new Error(`${where}: series ${i} is ${describe(series)}, not an object`);
    const { target, tags, datapoints } = series as Record<string, unknown>;
    if (typeof target !== 'string') throw new Error(`${where}: series ${i} has no string "target"`);
    if (tags !== undefined && (typeof tags !== 'object' || tags === null || Array.isArray(tags)))
      throw new Error(`${where}: series ${i} (${target}) has "tags" ${describe(tags)}, not an object`);
    if (!Array.isArray(datapoints))
      throw new Error(`${where}: series ${i} (${target}) has "datapoints" ${describe(datapoints)}, not an array`);
    datapoints.forEach((point: unknown, j) => {
      if (
        !Array.isArray(point) ||
        point.length !== 2 ||
        (point[0] !== null && typeof point[0] !== 'number') ||
        !Number.isInteger(point[1])
      ) {
        throw new Error(`${where}: series ${i} (${target}) datapoint ${j} is ${JSON.stringify(point)}, not [number|null, epochSeconds]`);
      }
    });
  });
  return body as RenderSeries[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 50)}`;
}

function parseCarbonUrl(carbonUrl: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(carbonUrl);
  } catch {
    throw new Error(`GraphiteTimeSeriesStore: carbonUrl ${JSON.stringify(carbonUrl)} is not a URL like tcp://127.0.0.1:2003`);
  }
  if (url.protocol !== 'tcp:')
    throw new Error(`GraphiteTimeSeriesStore: carbonUrl ${JSON.stringify(carbonUrl)} must use tcp:// (carbon's plaintext line receiver)`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 2003 };
}
