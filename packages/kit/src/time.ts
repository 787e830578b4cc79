/**
 * Graphite-style durations (`10s`, `5min`, `1h`, `2d`, `1w`, `1mon`, `1y`) and relative times
 * (`-1h`, `now`), the forms partners already use with Graphite's render API.
 */
const units: Array<[RegExp, number]> = [
  [/^(s|sec|secs|second|seconds)$/, 1],
  [/^(m|min|mins|minute|minutes)$/, 60],
  [/^(h|hour|hours)$/, 3600],
  [/^(d|day|days)$/, 86_400],
  [/^(w|week|weeks)$/, 604_800],
  [/^(mon|month|months)$/, 2_592_000],
  [/^(y|year|years)$/, 31_536_000],
];

/** Seconds in a duration, or an Error naming what was wrong. */
export function parseDuration(text: string): number | Error {
  const match = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text);
  if (!match) return new Error(`"${text}" is not a duration; use e.g. 10s, 5min, 1h, 1d`);
  const amount = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  const factor = units.find(([pattern]) => pattern.test(unit))?.[1];
  if (factor === undefined) return new Error(`"${text}" has an unknown unit "${unit}"; use s, min, h, d, w, mon or y`);
  if (amount <= 0) return new Error(`"${text}" must be longer than zero`);
  return amount * factor;
}

/** `now`, `-1h` (relative to `now`) or an ISO-8601 instant; an Error otherwise. */
export function parseInstant(text: string, now: Date = new Date()): Date | Error {
  const trimmed = text.trim();
  if (trimmed === 'now') return now;
  if (trimmed.startsWith('-')) {
    const seconds = parseDuration(trimmed.slice(1));
    return seconds instanceof Error ? seconds : new Date(now.getTime() - seconds * 1000);
  }
  const date = new Date(trimmed);
  if (Number.isNaN(date.getTime())) return new Error(`"${text}" is neither an ISO-8601 instant, "now" nor a relative time like "-1h"`);
  return date;
}
