/**
 * Graphite-style durations (`10s`, `5min`, `1h`, `2d`, `1w`, `1mon`, `1y`) and relative times
 * (`-1h`, `now`), the forms partners already use with Graphite's render API.
 *
 * Both have bounds, so that nothing downstream sees an Invalid Date, a timer longer than Node
 * can arm, or a range no store can answer: instants lie in the years 1970-2100
 * (`MIN_INSTANT_MS`..`MAX_INSTANT_MS`), durations from 1 s to 1 year (365 days).
 */
import { quoteInput } from './quote.ts';

const units: Array<[RegExp, number]> = [
  [/^(s|sec|secs|second|seconds)$/, 1],
  [/^(m|min|mins|minute|minutes)$/, 60],
  [/^(h|hour|hours)$/, 3600],
  [/^(d|day|days)$/, 86_400],
  [/^(w|week|weeks)$/, 604_800],
  [/^(mon|month|months)$/, 2_592_000],
  [/^(y|year|years)$/, 31_536_000],
];

/** 1970-01-01T00:00:00.000Z: the first instant accepted. */
export const MIN_INSTANT_MS = Date.UTC(1970, 0, 1);
/** 2100-12-31T23:59:59.999Z: the last instant accepted. */
export const MAX_INSTANT_MS = Date.UTC(2101, 0, 1) - 1;
/** The shortest duration accepted: 1 s. */
export const MIN_DURATION_SECONDS = 1;
/** The longest duration accepted: 1 year of 365 days (`1y`, `12mon` is 360 days). */
export const MAX_DURATION_SECONDS = 31_536_000;
/** Longer texts are refused before any parsing: no instant or duration needs more. */
const MAX_TEXT_LENGTH = 64;

/** Seconds in a duration within 1 s..1 year, or an Error naming what was wrong. */
export function parseDuration(text: string): number | Error {
  const match = text.length <= MAX_TEXT_LENGTH ? /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text) : null;
  if (!match) return new Error(`${quoteInput(text)} is not a duration; use e.g. 10s, 5min, 1h, 1d`);
  const amount = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  const factor = units.find(([pattern]) => pattern.test(unit))?.[1];
  if (factor === undefined) return new Error(`${quoteInput(text)} has an unknown unit ${quoteInput(unit)}; use s, min, h, d, w, mon or y`);
  if (amount <= 0) return new Error(`${quoteInput(text)} must be longer than zero (at least ${MIN_DURATION_SECONDS}s)`);
  const seconds = amount * factor;
  if (!(seconds <= MAX_DURATION_SECONDS))
    return new Error(`${quoteInput(text)} is longer than the longest duration accepted, 1 year (1y, ${MAX_DURATION_SECONDS}s)`);
  return seconds;
}

/**
 * `now`, `-1h` (relative to `now`) or an ISO-8601 instant within the years 1970-2100; an Error
 * naming what was wrong otherwise.
 */
export function parseInstant(text: string, now: Date = new Date()): Date | Error {
  const trimmed = text.trim();
  if (trimmed === 'now') return checkInstant(now, text);
  if (trimmed.startsWith('-')) {
    const seconds = parseRelative(trimmed.slice(1));
    if (seconds instanceof Error) return new Error(`${quoteInput(text)} is not a relative time like "-1h": ${seconds.message}`);
    return checkInstant(new Date(now.getTime() - seconds * 1000), text);
  }
  const date = trimmed.length <= MAX_TEXT_LENGTH ? new Date(trimmed) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime()))
    return new Error(`${quoteInput(text)} is neither an ISO-8601 instant, "now" nor a relative time like "-1h"`);
  return checkInstant(date, text);
}

/** Whether `ms` is an instant within the accepted years (false for NaN). */
export function isInstantInBounds(ms: number): boolean {
  return ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;
}

/** The error for an instant outside 1970-2100, quoting the input that gave it. */
export function instantOutOfBounds(text: string): Error {
  return new Error(
    `${quoteInput(text)} is outside the instants accepted, the years 1970 to 2100 (1970-01-01T00:00:00Z to 2100-12-31T23:59:59Z)`,
  );
}

function checkInstant(date: Date, text: string): Date | Error {
  return isInstantInBounds(date.getTime()) ? date : instantOutOfBounds(text);
}

/**
 * The span of a relative time (`1h` of `-1h`): any length, as long as the instant it gives is
 * within bounds (`-2y` is a fine `from`), checked by the caller.
 */
function parseRelative(text: string): number | Error {
  const match = text.length <= MAX_TEXT_LENGTH ? /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text) : null;
  if (!match) return new Error('use e.g. -10s, -5min, -1h, -1d');
  const factor = units.find(([pattern]) => pattern.test(match[2]!.toLowerCase()))?.[1];
  if (factor === undefined) return new Error(`unknown unit ${quoteInput(match[2]!)}; use s, min, h, d, w, mon or y`);
  return Number(match[1]) * factor;
}
