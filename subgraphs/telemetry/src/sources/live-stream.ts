import { ErrorCode, StartedRepeater, userError } from '#kit';
import { FixedBuffer, type Repeater } from '@repeaterjs/repeater';
import { GraphQLError } from 'graphql';
import { comparePositions, type LiveBus, type Reading } from '#telemetry';

export interface ReadingFilter {
  sensorIds?: ReadonlySet<string>;
  gatewayId?: string;
  quantity?: string;
  room?: string;
  /** Only readings measured after this instant (ms). */
  after?: number;
  /**
   * The subscriber's tenant wall: a reading it rejects is never given out, live or replayed,
   * whatever the other filters say.
   */
  readable?: (reading: Reading) => boolean;
}

export function matches(filter: ReadingFilter, reading: Reading): boolean {
  return (
    (!filter.readable || filter.readable(reading)) &&
    (!filter.sensorIds || filter.sensorIds.has(reading.sensorId)) &&
    (!filter.gatewayId || filter.gatewayId === reading.gatewayId) &&
    (!filter.quantity || filter.quantity === reading.quantity) &&
    (!filter.room || filter.room === reading.room) &&
    (filter.after === undefined || reading.time > filter.after)
  );
}

/** A reading of the live stream with its cursor. */
export interface LiveReading {
  reading: Reading;
  cursor: string;
}

/** Where a reading stands in the bus: its batch's position and its index in the batch. */
export interface Cursor {
  position: string;
  index: number;
}

const CURSOR = /^(\d{1,20}(?:-\d{1,20})?):(\d{1,6})$/;

export function encodeCursor({ position, index }: Cursor): string {
  return `${position}:${index}`;
}

/** The cursor in `text`, or a BAD_USER_INPUT error saying it is not one. */
export function decodeCursor(text: string): Cursor {
  const match = CURSOR.exec(text);
  if (!match)
    throw userError(ErrorCode.BAD_USER_INPUT, `"${text}" is not a cursor: give the \`cursor\` of a reading you received`, {
      field: 'after',
    });
  return { position: match[1]!, index: Number(match[2]) };
}

const REPLAY_PAGE = 500;

/** A batch of the live bus, narrowed to the readings that match. */
interface LiveBatch {
  position: string;
  batch: LiveReading[];
}

/**
 * The bus's batches, each narrowed to the readings that match `filter`, as an async iterator for
 * a GraphQL subscription. With `after`, it first replays every matching reading published after
 * that cursor (read back from the bus), then goes on live, without gap or duplicate: it listens
 * before it reads back, and skips live batches the replay already gave.
 *
 * Live batches wait in a queue of at most `queueLimit` readings; a subscriber that falls further
 * behind is ended with SLOW_CONSUMER naming the cursor to resume from, so that the server's
 * memory cannot grow because of one slow client. That error comes as the last event (resolvers
 * throw it, so it reaches the client as a GraphQL error of that event), not as a broken stream;
 * the batches still waiting then are dropped, since the client resumes from the cursor anyway.
 *
 * Call `prepare()` before handing it to GraphQL: it reads back what `after` asks for, and its
 * errors (an expired cursor) then answer the subscribe request itself.
 */
export class LiveBatches implements AsyncIterableIterator<LiveReading[] | GraphQLError> {
  /** The live queue: listens to the bus from construction until `return()` or the failure. */
  private readonly live: Repeater<LiveBatch, void>;
  /** Readings in the live queue (the Repeater counts batches; the limit is in readings). */
  private queued = 0;
  private failure: GraphQLError | undefined;
  private done = false;
  /** Replayed batches read but not yet given out; the next page is read when it runs dry. */
  private replay: LiveReading[][] = [];
  /** Position of the last batch read back; live batches up to it were replayed. */
  private replayedUpTo: string | undefined;
  private replayMore = false;
  private replayCursor: Cursor | undefined;
  private lastCursor: string | undefined;
  private firstReadPosition: string | undefined;

  constructor(
    private readonly bus: LiveBus,
    private readonly filter: ReadingFilter,
    private readonly queueLimit: number,
    after?: Cursor,
  ) {
    this.replayCursor = after;
    this.lastCursor = after && encodeCursor(after);
    this.live = new StartedRepeater<LiveBatch>(
      (push, stop) => {
        const unsubscribe = bus.subscribe((readings, position) => {
          if (this.failure) return;
          const batch = select(readings, position, filter, -1);
          if (!batch.length) return;
          this.queued += batch.length;
          if (this.queued > this.queueLimit) {
            this.failure = userError(
              ErrorCode.SLOW_CONSUMER,
              `More than ${this.queueLimit} readings waited for this subscriber, so it was ended. Subscribe again with after: "${this.lastCursor ?? ''}" to get the rest.`,
              { resumeAfter: this.lastCursor ?? null },
            );
            // Wakes a waiting next(), which gives the failure before anything still queued.
            stop();
            return;
          }
          void push({ position, batch });
        });
        return stop.then(unsubscribe);
      },
      // Never full: the failure stops the queue before it holds more than queueLimit readings.
      new FixedBuffer(Math.max(1, queueLimit)),
    );
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Reads back what was published after the `after` cursor; rejects with CURSOR_EXPIRED and the like. */
  async prepare(): Promise<this> {
    try {
      if (this.replayCursor) await this.readBack(this.replayCursor);
      return this;
    } catch (error) {
      await this.return();
      throw error;
    }
  }

  async next(): Promise<IteratorResult<LiveReading[] | GraphQLError>> {
    if (this.replayCursor) await this.prepare();
    while (!this.replay.length && this.replayMore && !this.done) await this.readPage(this.replayedUpTo!, false);
    const replayed = this.replay.shift();
    if (replayed && !this.done) return this.emit(replayed);
    while (!this.done) {
      if (this.failure) {
        this.done = true;
        void this.live.return();
        return { value: this.failure, done: false };
      }
      const step = await this.live.next();
      // The queue ends on return() (done is set) or on the failure (given on the next turn).
      if (step.done) {
        if (!this.failure) this.done = true;
        continue;
      }
      this.queued -= step.value.batch.length;
      if (this.replayedUpTo && comparePositions(step.value.position, this.replayedUpTo) <= 0) continue;
      return this.emit(step.value.batch);
    }
    return { value: undefined, done: true };
  }

  /** Stops listening at once, also while a `next()` waits (it then ends). */
  async return(): Promise<IteratorResult<LiveReading[]>> {
    this.done = true;
    await this.live.return();
    return { value: undefined, done: true };
  }

  private emit(batch: LiveReading[]): IteratorResult<LiveReading[]> {
    this.lastCursor = batch[batch.length - 1]!.cursor;
    return { value: batch, done: false };
  }

  /** Checks the cursor and reads back the first page after it (the rest page by page, in `next`). */
  private async readBack(after: Cursor): Promise<void> {
    this.replayCursor = undefined;
    const oldest = await this.bus.oldestPosition();
    if (oldest === undefined || comparePositions(after.position, oldest) < 0) {
      throw userError(
        ErrorCode.CURSOR_EXPIRED,
        `Cursor "${encodeCursor(after)}" is older than what the live bus keeps${oldest ? ` (the oldest batch is at ${oldest})` : ''}; subscribe without after, or read the gap from Sensor.readings.`,
        { oldest: oldest ?? null },
      );
    }
    await this.readPage(after.position, true, after.index);
    if (this.firstReadPosition !== undefined && this.firstReadPosition !== after.position) {
      throw userError(ErrorCode.BAD_USER_INPUT, `Cursor "${encodeCursor(after)}" names no batch of the live bus`, { field: 'after' });
    }
  }

  /**
   * Reads one page of kept batches after `position` (from it, when `inclusive`; then only its
   * readings after `index`) into `replay`; notes whether more may follow.
   */
  private async readPage(position: string, inclusive: boolean, index = -1): Promise<void> {
    const page = await this.bus.readRange(position, REPLAY_PAGE, inclusive);
    if (inclusive) this.firstReadPosition = page[0]?.position;
    for (const entry of page) {
      const batch = select(entry.readings, entry.position, this.filter, entry.position === position ? index : -1);
      if (batch.length) this.replay.push(batch);
      this.replayedUpTo = entry.position;
    }
    this.replayMore = page.length === REPLAY_PAGE;
  }
}

/** The readings of one batch that match, from index `after + 1` on, with their cursors. */
function select(readings: readonly Reading[], position: string, filter: ReadingFilter, after: number): LiveReading[] {
  const selected: LiveReading[] = [];
  for (let index = after + 1; index < readings.length; index++) {
    const reading = readings[index]!;
    if (matches(filter, reading)) selected.push({ reading, cursor: encodeCursor({ position, index }) });
  }
  return selected;
}

/**
 * One reading at a time out of an iterator of batches (errors pass as they are), after the items
 * of `first` (history before live). It keeps no queue and never waits on its own: it only hands
 * out the rest of the batch it holds and otherwise waits on `source` (`LiveBatches`, on a
 * Repeater, or a `BucketStream`). So `return()` returns the source, which ends a `next()` waiting
 * on it, and does so before the first `next()` too; a source's error comes after the items before it.
 *
 * Not a Repeater itself: that would cost a Repeater push per reading (about 7 µs each on a 2-core
 * machine, where the whole live stream cost 0.3 µs a reading), while the source pays one per batch.
 */
export function flatten<T, F = never>(
  source: AsyncIterator<T[] | GraphQLError>,
  first: readonly F[] = [],
): AsyncIterableIterator<T | F | GraphQLError> {
  let batch: ReadonlyArray<T | F | GraphQLError> = first;
  let index = 0;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      while (index >= batch.length) {
        const step = await source.next();
        if (step.done) return { value: undefined, done: true };
        batch = step.value instanceof GraphQLError ? [step.value] : step.value;
        index = 0;
      }
      return { value: batch[index++]!, done: false };
    },
    async return() {
      batch = [];
      index = 0;
      await source.return?.();
      return { value: undefined, done: true };
    },
  };
}
