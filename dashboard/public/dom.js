// Small helpers for the page's DOM.

/** The element with this id. */
export const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {Map<string, () => void>} */
const pending = new Map();
let flushTimer = 0;

/**
 * Gathers DOM writes and runs them a few times a second, however many readings arrive; a later
 * write under the same key replaces an earlier one that has not run yet.
 * @param {string} key
 * @param {() => void} write
 */
export function render(key, write) {
  pending.set(key, write);
  if (!flushTimer)
    flushTimer = setTimeout(() => {
      flushTimer = 0;
      const writes = [...pending.values()];
      pending.clear();
      for (const w of writes) w();
    }, 200);
}

/** Briefly highlights a cell whose value just changed. */
export function flash(/** @type {Element} */ cell) {
  cell.classList.remove('fresh');
  void (/** @type {HTMLElement} */ (cell).offsetWidth);
  cell.classList.add('fresh');
}
