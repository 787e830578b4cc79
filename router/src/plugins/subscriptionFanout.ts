import { Repeater, type Stop } from '@repeaterjs/repeater';
import type { ExecutionResult } from 'graphql';

/** Where one subscriber's events go: the shared event's JSON, encoded once for everyone. */
export interface FanoutSink {
  next(payload: Buffer): void;
}

/** Who may share an execution: equal strings do; a symbol is an execution of its own. */
export type FanoutKey = string | symbol;

/** What starts the one upstream execution of a key: a single result, or a stream of them. */
export type StartExecution = () => unknown;

export interface FanoutStats {
  /** Upstream executions running (one per key). */
  upstreams: number;
  subscribers: number;
  /** Events received from upstream executions, each serialised once. */
  events: number;
  /** Events handed to sinks (events times their subscribers). */
  deliveries: number;
}

interface Subscriber {
  sink: FanoutSink;
  /** Ends the subscriber's iterator: done, or with the shared execution's error. */
  stop: Stop;
  ended: boolean;
}

/** How a shared execution ended for its subscribers. */
type Outcome = { error: unknown } | 'done';

interface SharedExecution {
  key: FanoutKey;
  subscribers: Set<Subscriber>;
  iterator?: AsyncIterator<unknown>;
  /** No subscriber is left, or upstream ended: nothing more is broadcast. */
  closed: boolean;
}

/**
 * One upstream execution per key, shared by every subscriber of that key. Each event is
 * serialised to JSON once and handed to every subscriber's sink as the same bytes; the
 * transport adds its own framing. The subscriber side is an async iterator that yields nothing
 * and settles when the shared execution ends: done on completion, rejected with its error, so a
 * protocol server (graphql-ws) sends its Complete or Error frame after the last event.
 *
 * When the last subscriber of a key leaves, the key is free at once (a newcomer starts a new
 * execution) and the upstream execution is returned.
 *
 * Knows nothing of sockets or GraphQL transports (like graphql-ws' server core).
 */
export class SubscriptionFanout {
  readonly #executions = new Map<FanoutKey, SharedExecution>();
  #subscribers = 0;
  #events = 0;
  #deliveries = 0;

  stats(): FanoutStats {
    return { upstreams: this.#executions.size, subscribers: this.#subscribers, events: this.#events, deliveries: this.#deliveries };
  }

  /**
   * A subscriber to the execution of `key`, started with `start` if there is none. It joins at
   * its iterator's first `next()` (a Repeater's executor), which graphql-ws and the SSE route call
   * at once; one returned before that never joins. Its `return()` takes it out, also while a
   * `next()` waits.
   */
  join(key: FanoutKey, start: StartExecution, sink: FanoutSink): Repeater<never, void> {
    return new Repeater<never, void>(async (_push, stop) => {
      let execution = this.#executions.get(key);
      const isNew = !execution;
      if (!execution) {
        execution = { key, subscribers: new Set(), closed: false };
        this.#executions.set(key, execution);
      }
      const subscriber: Subscriber = { sink, stop, ended: false };
      execution.subscribers.add(subscriber);
      this.#subscribers++;
      if (isNew) void this.#run(execution, start);
      await stop;
      this.#leave(execution, subscriber);
    });
  }

  /** Ends every shared execution (their subscribers complete). */
  async close(): Promise<void> {
    const executions = [...this.#executions.values()];
    await Promise.all(executions.map((execution) => this.#end(execution, 'done')));
  }

  async #run(execution: SharedExecution, start: StartExecution): Promise<void> {
    let result: unknown;
    try {
      result = await start();
    } catch (error) {
      await this.#end(execution, { error });
      return;
    }
    if (!isAsyncIterable(result)) {
      this.#broadcast(execution, result as ExecutionResult);
      await this.#end(execution, 'done');
      return;
    }
    const iterator = result[Symbol.asyncIterator]();
    execution.iterator = iterator;
    // Everyone left while the upstream execution was starting.
    if (execution.closed) {
      await returnQuietly(iterator);
      return;
    }
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done || execution.closed) break;
        this.#broadcast(execution, step.value as ExecutionResult);
      }
    } catch (error) {
      await this.#end(execution, { error });
      return;
    }
    await this.#end(execution, 'done');
  }

  #broadcast(execution: SharedExecution, result: ExecutionResult): void {
    if (execution.closed) return;
    // GraphQLError has toJSON(); the Rust planner's plain error objects serialise as they are.
    const payload = Buffer.from(JSON.stringify(result));
    this.#events++;
    for (const subscriber of execution.subscribers) {
      subscriber.sink.next(payload);
      this.#deliveries++;
    }
  }

  /** Upstream ended (or the router closes): every subscriber's iterator settles. */
  async #end(execution: SharedExecution, outcome: Outcome): Promise<void> {
    this.#release(execution);
    for (const subscriber of execution.subscribers) this.#settle(subscriber, outcome);
    execution.subscribers.clear();
    if (execution.iterator) await returnQuietly(execution.iterator);
  }

  #leave(execution: SharedExecution, subscriber: Subscriber): void {
    if (!execution.subscribers.delete(subscriber)) return;
    this.#settle(subscriber, 'done');
    if (execution.subscribers.size > 0 || execution.closed) return;
    this.#release(execution);
    // Before the upstream iterator exists, #run returns it as soon as it does.
    if (execution.iterator) void returnQuietly(execution.iterator);
  }

  #release(execution: SharedExecution): void {
    if (execution.closed) return;
    execution.closed = true;
    if (this.#executions.get(execution.key) === execution) this.#executions.delete(execution.key);
  }

  #settle(subscriber: Subscriber, outcome: Outcome): void {
    if (subscriber.ended) return;
    subscriber.ended = true;
    this.#subscribers--;
    // Its waiting next() ends, or rejects with the error; every later one is done.
    if (outcome === 'done') subscriber.stop();
    else subscriber.stop(outcome.error);
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function'
  );
}

async function returnQuietly(iterator: AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The execution is over either way; its error already reached the subscribers or nobody is left.
  }
}
