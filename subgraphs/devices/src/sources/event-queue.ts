/**
 * A push-fed async iterator for a GraphQL subscription: `push` queues events, `end` finishes
 * after the queued ones, and `return()` (the client unsubscribed) stops at once and calls
 * `onReturn`, even while the consumer waits, which an async generator could not.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private stopped = false;

  constructor(private readonly onReturn: () => void) {}

  push(event: T): void {
    if (this.ended || this.stopped) return;
    this.queue.push(event);
    this.notify();
  }

  /** No more events: the iterator finishes once the queued ones are taken. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.stopped) return { done: true, value: undefined };
      const event = this.queue.shift();
      if (event !== undefined) return { done: false, value: event };
      if (this.ended) {
        this.stop();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.stop();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue.length = 0;
    this.notify();
    this.onReturn();
  }

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }
}
