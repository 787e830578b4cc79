import { connect, type Socket } from 'node:net';
import type { Logger } from '#log';

export interface CarbonWriterOptions {
  /** carbon's plaintext line receiver, e.g. `tcp://127.0.0.1:2003`. */
  carbonUrl: string;
  logger: Logger;
  /** Lines held while carbon is slow or down; `write` waits when it is full. Default 100 000. */
  maxBufferedPoints?: number;
  /** How long lines may wait to be sent together. Default 100 ms. */
  flushIntervalMs?: number;
  /** Per connection attempt, and for the final flush in `close`. Default 10 s. */
  timeoutMs?: number;
  /** Reconnect delays: doubling from `min` to `max`. Default 100 ms to 2 s. */
  reconnectDelayMs?: { min: number; max: number };
  /**
   * Lines sent during this long before a connection drops are sent again on reconnect (at most
   * `maxBufferedPoints` of them). The plaintext protocol has no acknowledgement, and carbon-cache
   * 1.1 loses what it has not yet written to whisper when it stops: its writer thread drains the
   * cache, sleeps a second, and exits with the reactor without a last drain. Sending a point twice
   * is harmless: in order, the slot ends with the same value. Default 5 s.
   */
  replayWindowMs?: number;
}

/** Counters for health checks and benchmarks. */
export interface CarbonWriterStats {
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

/** Lines per socket write. */
const BATCH_LINES = 5_000;

/**
 * Writes lines of carbon's plaintext protocol (`<path> <value> <epoch seconds>\n`) over one TCP
 * connection: buffered up to `maxBufferedPoints` (a writer waits for room rather than the process
 * growing or dropping points), sent in batches, reconnecting with a doubling delay, and sending
 * the last `replayWindowMs` again after a drop. Lines leave the buffer only when the socket has
 * accepted them. Opens its connection on the first write.
 */
export class CarbonWriter {
  private readonly maxBuffered: number;
  private readonly flushIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly reconnectDelay: { min: number; max: number };
  private readonly replayWindowMs: number;
  private readonly logger: Logger;
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
  /** Serializes `write` calls so that lines keep their order when some wait for room. */
  private tail: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  private readonly counters = { written: 0, replayed: 0, reconnects: 0 };

  constructor(options: CarbonWriterOptions) {
    this.maxBuffered = options.maxBufferedPoints ?? 100_000;
    if (!(this.maxBuffered >= 1)) throw new Error('GraphiteTimeSeriesStore: maxBufferedPoints must be at least 1');
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.reconnectDelay = options.reconnectDelayMs ?? { min: 100, max: 2_000 };
    this.backoffMs = this.reconnectDelay.min;
    this.replayWindowMs = options.replayWindowMs ?? 5_000;
    this.logger = options.logger;
    this.carbon = parseCarbonUrl(options.carbonUrl);
  }

  get stats(): CarbonWriterStats {
    return {
      buffered: this.buffered,
      written: this.counters.written,
      replayed: this.counters.replayed,
      reconnects: this.counters.reconnects,
      connected: this.connected,
    };
  }

  /** True once `close` was called: `write` rejects. */
  get isClosing(): boolean {
    return this.closing;
  }

  /**
   * Resolves once the lines are in the buffer (they are sent and, after a carbon restart, sent
   * again from there). While the buffer is full it waits for room. Writes keep their order.
   */
  write(lines: string[]): Promise<void> {
    if (this.closing) return Promise.reject(new Error('GraphiteTimeSeriesStore: write after close'));
    const mine = this.tail.then(() => this.enqueue(lines));
    this.tail = mine.catch(() => undefined);
    return mine;
  }

  /**
   * Resolves once every line written before the call has left the buffer: carbon's socket
   * accepted it (lines of the last `replayWindowMs` are still sent again if that connection drops).
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

  /**
   * Stops taking writes, sends what carbon takes within `timeoutMs`, then ends the socket. Writes
   * still waiting for room are rejected; lines left over are logged as lost.
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
    this.wakeWaiters();
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

  private get buffered(): number {
    return this.queue.length - this.head;
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
