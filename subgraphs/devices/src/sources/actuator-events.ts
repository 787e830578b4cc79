import { ErrorCode, StartedRepeater, userError } from '#kit';
import { compareLogPositions, isLogPosition, type ActuatorLog, type ActuatorLogEntry } from '#registry';
import { FixedBuffer, type Repeater } from '@repeaterjs/repeater';
import { GraphQLError } from 'graphql';

/** Which events a subscriber wants, and the wall each one passes before it is given out. */
export interface ActuatorEventFilter {
  gatewayId?: string;
  actuatorIds?: ReadonlySet<string>;
  /** The subscriber's tenant wall and grants, asked again for every event, live or replayed. */
  visible(entry: ActuatorLogEntry): Promise<boolean>;
}

function wanted(filter: ActuatorEventFilter, { event }: ActuatorLogEntry): boolean {
  return (!filter.gatewayId || filter.gatewayId === event.gatewayId) && (!filter.actuatorIds || filter.actuatorIds.has(event.actuatorId));
}

/** The cursor of an event: its position in the log, opaque to clients. */
export function encodeActuatorCursor(position: string): string {
  return position;
}

/** The position a cursor names, or a BAD_USER_INPUT error saying it is not one. */
export function decodeActuatorCursor(cursor: string): string {
  if (!isLogPosition(cursor))
    throw userError(ErrorCode.BAD_USER_INPUT, `"${cursor.slice(0, 40)}" is not a cursor: give the \`cursor\` of an event you received`, {
      field: 'after',
    });
  return cursor;
}

const REPLAY_PAGE = 200;

/**
 * The actuator log's events for one subscriber, as an async iterator for a GraphQL subscription,
 * as the telemetry subgraph's `LiveBatches` does readings: with `after`, every matching event
 * recorded after that cursor (read back from the log), then live ones, none missing and none twice.
 * It listens before it reads back, and skips live events the replay already gave (by position).
 *
 * Live events wait in a queue of at most `queueLimit`; a subscriber further behind is ended with
 * SLOW_CONSUMER naming the cursor to resume from (given as its last event, an error).
 * Call `prepare()` before handing it to GraphQL: an expired cursor then fails the subscribe request.
 */
export class ActuatorEventStream implements AsyncIterableIterator<ActuatorLogEntry | GraphQLError> {
  private readonly live: Repeater<ActuatorLogEntry, void>;
  private queued = 0;
  private failure: GraphQLError | undefined;
  private done = false;
  private replay: ActuatorLogEntry[] = [];
  private replayedUpTo: string | undefined;
  private replayMore = false;
  private pendingAfter: string | undefined;
  private lastPosition: string | undefined;

  constructor(
    private readonly log: ActuatorLog,
    private readonly filter: ActuatorEventFilter,
    private readonly queueLimit: number,
    after?: string,
  ) {
    this.pendingAfter = after;
    this.lastPosition = after;
    this.live = new StartedRepeater<ActuatorLogEntry>(
      (push, stop) => {
        const unsubscribe = log.subscribe((entry) => {
          if (this.failure || !wanted(filter, entry)) return;
          if (++this.queued > this.queueLimit) {
            this.failure = userError(
              ErrorCode.SLOW_CONSUMER,
              `More than ${this.queueLimit} actuator events waited for this subscriber, so it was ended. Subscribe again with after: "${this.lastPosition ?? ''}" to get the rest.`,
              { resumeAfter: this.lastPosition ?? null },
            );
            stop();
            return;
          }
          void push(entry);
        });
        return stop.then(unsubscribe);
      },
      new FixedBuffer(Math.max(1, queueLimit)),
    );
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Checks the cursor and reads back the first page after it; rejects with CURSOR_EXPIRED or BAD_USER_INPUT. */
  async prepare(): Promise<this> {
    const after = this.pendingAfter;
    this.pendingAfter = undefined;
    if (after === undefined) return this;
    try {
      const oldest = await this.log.oldestPosition();
      if (oldest === undefined || compareLogPositions(after, oldest) < 0)
        throw userError(
          ErrorCode.CURSOR_EXPIRED,
          `Cursor "${after}" is older than the actuator events kept${oldest ? ` (the oldest is at ${oldest})` : ''}; subscribe without after, and read what you missed from Actuator.audit`,
          { oldest: oldest ?? null },
        );
      // The cursor must name a kept event: a position past the end (another log's) would skip live events.
      const [named] = await this.log.readRange(previousOf(after), 1);
      if (named?.position !== after)
        throw userError(ErrorCode.BAD_USER_INPUT, `Cursor "${after}" names no actuator event`, { field: 'after' });
      await this.readPage(after);
      return this;
    } catch (error) {
      await this.return();
      throw error;
    }
  }

  async next(): Promise<IteratorResult<ActuatorLogEntry | GraphQLError>> {
    if (this.pendingAfter !== undefined) await this.prepare();
    for (;;) {
      if (this.done) return { value: undefined, done: true };
      while (!this.replay.length && this.replayMore) await this.readPage(this.replayedUpTo!);
      const replayed = this.replay.shift();
      if (replayed) {
        if (await this.filter.visible(replayed)) return this.emit(replayed);
        continue;
      }
      if (this.failure) {
        this.done = true;
        void this.live.return();
        return { value: this.failure, done: false };
      }
      const step = await this.live.next();
      if (step.done) {
        if (!this.failure) this.done = true;
        continue;
      }
      this.queued--;
      if (this.replayedUpTo && compareLogPositions(step.value.position, this.replayedUpTo) <= 0) continue;
      if (await this.filter.visible(step.value)) return this.emit(step.value);
    }
  }

  async return(): Promise<IteratorResult<ActuatorLogEntry>> {
    this.done = true;
    await this.live.return();
    return { value: undefined, done: true };
  }

  private emit(entry: ActuatorLogEntry): IteratorResult<ActuatorLogEntry> {
    this.lastPosition = entry.position;
    return { value: entry, done: false };
  }

  private async readPage(after: string): Promise<void> {
    const page = await this.log.readRange(after, REPLAY_PAGE);
    for (const entry of page) {
      if (wanted(this.filter, entry)) this.replay.push(entry);
      this.replayedUpTo = entry.position;
    }
    this.replayedUpTo ??= after;
    this.replayMore = page.length === REPLAY_PAGE;
  }
}

/** The position just before `position` (a Redis stream id `<ms>-<seq>` or a counter), for an inclusive read. */
function previousOf(position: string): string {
  const [main = '0', seq] = position.split('-');
  if (seq === undefined) return String(BigInt(main) - 1n);
  if (seq !== '0') return `${main}-${BigInt(seq) - 1n}`;
  return `${BigInt(main) - 1n}-18446744073709551615`;
}
