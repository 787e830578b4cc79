import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { userError, ErrorCode } from './errors.ts';
import { parseDuration, parseInstant } from './time.ts';

/**
 * An instant. Served as an ISO-8601 UTC string; accepted as ISO-8601, `now`, or relative to now
 * the way Graphite takes it (`-1h`, `-30min`).
 */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description:
    'An instant: ISO-8601 UTC (2026-11-24T10:00:00.000Z); as input also `now` or relative like `-1h`, within the years 1970-2100.',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(value as string | number);
    if (Number.isNaN(date.getTime())) throw new TypeError(`DateTime cannot represent ${String(value)}`);
    return date.toISOString();
  },
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => parseDate(stringLiteral(ast, 'DateTime')),
});

/** A Graphite-style duration (`10s`, `5min`, `1h`, `1d`) from 1 s to 1 year; parsed to seconds. */
export const Duration = new GraphQLScalarType<number, string>({
  name: 'Duration',
  description: 'A Graphite-style duration from 1s to 1y: 10s, 5min, 1h, 1d, 1w.',
  serialize: (value) => `${value as number}s`,
  parseValue: (value) => parseSeconds(value),
  parseLiteral: (ast) => parseSeconds(stringLiteral(ast, 'Duration')),
});

/** Free-form JSON (labels, raw daemon answers). */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});

function stringLiteral(ast: ValueNode, type: string): string {
  if (ast.kind !== Kind.STRING) throw userError(ErrorCode.BAD_USER_INPUT, `${type} must be a string`);
  return ast.value;
}

// A value that is no DateTime or Duration, or one out of bounds, is BAD_USER_INPUT like any bad
// argument; BAD_TIME_RANGE is for ranges of valid values (from after until, too many buckets).
function parseDate(value: unknown): Date {
  if (typeof value !== 'string') throw userError(ErrorCode.BAD_USER_INPUT, 'DateTime must be a string');
  const date = parseInstant(value);
  if (date instanceof Error) throw userError(ErrorCode.BAD_USER_INPUT, date.message);
  return date;
}

function parseSeconds(value: unknown): number {
  if (typeof value !== 'string') throw userError(ErrorCode.BAD_USER_INPUT, 'Duration must be a string like "5min"');
  const seconds = parseDuration(value);
  if (seconds instanceof Error) throw userError(ErrorCode.BAD_USER_INPUT, seconds.message);
  return seconds;
}
