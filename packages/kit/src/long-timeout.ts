/**
 * The longest delay `setTimeout` honours (2^31-1 ms, about 24.8 days). Node turns a longer one
 * into 1 ms with a TimeoutOverflowWarning: a busy loop instead of a wait.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A pending `setLongTimeout`; `clear()` cancels it (harmless once it has fired). */
export interface LongTimeout {
  clear(): void;
}

/**
 * Calls `callback` once, `delayMs` from now, however long that is: a wait longer than
 * `MAX_TIMER_DELAY_MS` is a chain of timers of at most that length, so no timer is ever armed
 * past what Node accepts. A negative delay fires on the next turn, as with `setTimeout`. A delay
 * that is not a number (NaN) throws a RangeError instead of firing at once in a loop: it is a bug
 * upstream, typically an Invalid Date.
 */
export function setLongTimeout(callback: () => void, delayMs: number): LongTimeout {
  if (Number.isNaN(delayMs)) throw new RangeError('setLongTimeout: the delay is NaN (an Invalid Date upstream?)');
  let timer: NodeJS.Timeout | undefined;
  let cleared = false;
  const deadline = Date.now() + Math.max(0, delayMs);
  const arm = (wait: number) => {
    timer = setTimeout(
      () => {
        if (cleared) return;
        const left = deadline - Date.now();
        if (left > 0) arm(left);
        else callback();
      },
      Math.min(wait, MAX_TIMER_DELAY_MS),
    );
  };
  arm(Math.max(0, Math.min(delayMs, Number.MAX_SAFE_INTEGER)));
  return {
    clear() {
      cleared = true;
      clearTimeout(timer);
    },
  };
}
