import type { Logger } from '#log';

/**
 * One step of a change that spans several systems (Kubernetes, Contrail, the gateway registry):
 * what it does, and how to take it back once it is done.
 */
export interface Step {
  /** What the step does, as a phrase: `creating its Contrail vRouter`. */
  name: string;
  run(): Promise<void>;
  /** Takes back a completed `run`; absent for steps that change nothing (checks). */
  undo?(): Promise<void>;
}

/**
 * A step failed. The steps completed before it were undone (in reverse order); `undoFailures`
 * lists those whose undo failed too, which an operator must then clean up by hand.
 *
 * `message` holds the cause's own text (an upstream system's answer, object names): for logs and
 * development. `summary` says only which step failed and whether all was undone, for clients in
 * production.
 */
export class StepFailedError extends Error {
  override name = 'StepFailedError';
  readonly summary: string;
  constructor(
    readonly operation: string,
    readonly step: string,
    readonly undone: readonly string[],
    readonly undoFailures: readonly string[],
    options: ErrorOptions,
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    const afterwards = [
      ...(undone.length ? [`undone: ${undone.join(', ')}`] : []),
      ...(undoFailures.length ? [`NOT undone (clean up by hand): ${undoFailures.join('; ')}`] : []),
    ];
    super(`${operation}: ${step} failed: ${cause}${afterwards.length ? `; ${afterwards.join('; ')}` : ''}`, options);
    this.summary = `${operation}: ${step} failed; ${undoFailures.length ? 'some steps could not be undone, the operator was told' : 'nothing was changed'}`;
  }
}

/**
 * Runs `steps` in order, all or nothing: when one throws, the completed ones are undone in
 * reverse order and a `StepFailedError` naming the failed step (its `cause` the original error)
 * is thrown. An undo that fails does not stop the others. The whole failure is logged, as an
 * error when something could not be undone (an operator must clean up): give a `logger` whose
 * bindings say what the operation was on (e.g. `logger.child({ gatewayId })`).
 */
export async function runSteps(operation: string, steps: readonly Step[], logger: Logger): Promise<void> {
  const done: Step[] = [];
  for (const step of steps) {
    try {
      await step.run();
      done.push(step);
    } catch (error) {
      const undone: string[] = [];
      const undoFailures: string[] = [];
      for (const completed of done.reverse()) {
        if (!completed.undo) continue;
        try {
          await completed.undo();
          undone.push(completed.name);
        } catch (undoError) {
          undoFailures.push(`${completed.name}: ${undoError instanceof Error ? undoError.message : String(undoError)}`);
        }
      }
      const failure = new StepFailedError(operation, step.name, undone, undoFailures, { cause: error });
      if (undoFailures.length)
        logger.error(
          { operation, step: step.name, err: error, undone, undoFailures },
          'rolled back, but some steps could not be undone: clean them up by hand',
        );
      else logger.warn({ operation, step: step.name, err: error, undone }, 'rolled back');
      throw failure;
    }
  }
}
