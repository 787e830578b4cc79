import { StartedRepeater } from '#kit';
import { FixedBuffer, type Push, type Stop } from '@repeaterjs/repeater';

/**
 * A push-fed async iterator for a GraphQL subscription, on a `Repeater`: `push` queues events,
 * `end` finishes after the queued ones, and `return()` (the client unsubscribed) stops at once and
 * calls `onReturn`, even while the consumer waits (which an async generator could not).
 *
 * Events pushed before the first `next()` are kept: it is a `StartedRepeater`, listening from the
 * moment it is made. Unbounded, as the events of a discovery are few (a handful per wave).
 */
export class EventQueue<T> extends StartedRepeater<T> {
  readonly #push: Push<T>;
  readonly #stop: Stop;

  constructor(onReturn: () => void) {
    let push: Push<T> | undefined;
    let stop: Stop | undefined;
    super(async (pushEvent, stopEvents) => {
      push = pushEvent;
      stop = stopEvents;
      await stopEvents;
      onReturn();
    }, new FixedBuffer(Infinity));
    // StartedRepeater ran the executor in its constructor, which set push and stop synchronously.
    this.#push = push!;
    this.#stop = stop!;
  }

  /** Queues an event; ignored once ended or returned. */
  push(event: T): void {
    void this.#push(event);
  }

  /** No more events: the iterator finishes once the queued ones are taken. */
  end(): void {
    this.#stop();
  }
}
