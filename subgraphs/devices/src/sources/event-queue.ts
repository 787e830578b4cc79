import { FixedBuffer, Repeater, type Push, type Stop } from '@repeaterjs/repeater';

/**
 * A push-fed async iterator for a GraphQL subscription, on a `Repeater`: `push` queues events,
 * `end` finishes after the queued ones, and `return()` (the client unsubscribed) stops at once and
 * calls `onReturn`, even while the consumer waits (which an async generator could not).
 *
 * Events pushed before the first `next()` are kept: a Repeater runs its executor at the first
 * `next()`, so this one takes that `next()` when it is made and hands it out as the first result.
 * Unbounded, as the events of a discovery are few (a handful per wave).
 */
export class EventQueue<T> extends Repeater<T, void> {
  readonly #push: Push<T>;
  readonly #stop: Stop;
  #first: Promise<IteratorResult<T, void>> | undefined;

  constructor(onReturn: () => void) {
    let push: Push<T> | undefined;
    let stop: Stop | undefined;
    super(async (pushEvent, stopEvents) => {
      push = pushEvent;
      stop = stopEvents;
      await stopEvents;
      onReturn();
    }, new FixedBuffer(Infinity));
    // Runs the executor now (it sets push and stop synchronously).
    this.#first = super.next();
    // A first result nobody asks for (returned before reading) must not count as unhandled.
    this.#first.catch(() => undefined);
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

  override next(): Promise<IteratorResult<T, void>> {
    const first = this.#first;
    if (!first) return super.next();
    this.#first = undefined;
    return first;
  }

  override return(value?: PromiseLike<void> | void): Promise<IteratorResult<T, void>> {
    // The first result, if it came, was never asked for: after return() nothing more is given.
    this.#first = undefined;
    return super.return(value);
  }
}
