// How the dashboard writes times, numbers and names: 24-hour clocks, values rounded to what a
// sensor can tell apart, and names sorted as people count ("Room 2" before "Room 10").

/** Compares texts as people do: digits by their number, case and accents ignored. */
export const naturalOrder = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare;

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const hoursMinutes = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayAndClock = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** `14:03:07`, whatever the locale's habit of am/pm. */
export function timeOfDay(/** @type {string | number | Date} */ time) {
  return clock.format(new Date(time));
}

/** `14:00`: a time axis' tick. */
export function hourAndMinute(/** @type {string | number | Date} */ time) {
  return hoursMinutes.format(new Date(time));
}

/** `3 May, 14:03:07`: when something was last seen, perhaps days ago. */
export function dayAndTime(/** @type {string | number | Date} */ time) {
  return dayAndClock.format(new Date(time));
}

/** A room's name as a label: `room 301` for a bare number, `building 4 room 2` as it is. */
export function roomLabel(/** @type {string} */ room) {
  return /\broom\b/i.test(room) ? room : `room ${room}`;
}

/** Where a node is, as a heading: `room 301` for a bare number, a street or `school room 2` as it is. */
export function placeLabel(/** @type {string} */ place) {
  return /^\d+$/.test(place) ? `room ${place}` : place;
}

/** `14:03:07` for a time of today, `3 May, 14:03:07` for an older one. */
export function when(/** @type {string | number | Date} */ time) {
  const date = new Date(time);
  return date.toDateString() === new Date().toDateString() ? timeOfDay(date) : dayAndTime(date);
}

/** Each room quantity written with the unit and the precision its sensors have. */
export const quantityFormats = {
  CO2: (/** @type {number} */ v) => `${Math.round(v)} ppm`,
  TEMPERATURE: (/** @type {number} */ v) => `${v.toFixed(1)} °C`,
  HUMIDITY: (/** @type {number} */ v) => `${Math.round(v)} %`,
};

/**
 * Labels of an axis' ticks with as many decimals as their spacing needs and no more: 19.5, 20,
 * 20.5 are written `19.5`, `20.0`, `20.5`; 400, 600 `400`, `600`.
 * @param {ReadonlyArray<number | null>} ticks
 * @returns {string[]}
 */
export function tickLabels(ticks) {
  const values = ticks.filter((t) => t !== null && Number.isFinite(t));
  let step = Infinity;
  for (let i = 1; i < values.length; i++)
    step = Math.min(step, Math.abs(/** @type {number} */ (values[i]) - /** @type {number} */ (values[i - 1])));
  const decimals = Number.isFinite(step) && step > 0 ? Math.min(4, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
  return ticks.map((t) => (t === null || !Number.isFinite(t) ? '' : t.toFixed(decimals)));
}
