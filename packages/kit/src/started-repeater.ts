import { Repeater, type RepeaterBuffer, type RepeaterExecutor } from '@repeaterjs/repeater';

/**
 * A Repeater whose executor runs when it is made, not at the first `next()`: a stream that must
 * listen from the start (and be let go by `return()` even if it is never read) takes that first
 * `next()` at once and hands it out as its first result. Pushing with the
 * Repeater's back-pressure is unchanged: the first push goes to that `next()`, the rest wait for
 * the consumer.
 */
export class StartedRepeater<T> extends Repeater<T, void> {
  #first: Promise<IteratorResult<T, void>> | undefined;

  constructor(executor: RepeaterExecutor<T, void>, buffer?: RepeaterBuffer) {
    super(executor, buffer);
    this.#first = super.next();
    // A first result nobody asks for (returned before reading) must not count as unhandled.
    this.#first.catch(() => undefined);
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
