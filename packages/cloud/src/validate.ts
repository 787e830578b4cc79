/**
 * Small validators for the JSON that external systems send us. Each one either returns the value
 * with its static type or throws a `ValidationError` naming the path that was wrong
 * (`servers[3].addresses: expected an object, got null`), so a surprising answer from a real
 * system fails loudly at the boundary instead of deep inside a resolver.
 */
export class ValidationError extends Error {
  override name = 'ValidationError';
}

/** Checks `value` found at `path` and returns it typed. */
export type Check<T> = (value: unknown, path: string) => T;

/** The type a `Check` returns. */
export type Checked<C> = C extends Check<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new ValidationError(`${path}: expected ${expected}, got ${value === undefined ? 'nothing' : describe(value)}`);
}

export const string: Check<string> = (value, path) => (typeof value === 'string' ? value : fail(path, 'a string', value));
export const number: Check<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) ? value : fail(path, 'a number', value);
export const boolean: Check<boolean> = (value, path) => (typeof value === 'boolean' ? value : fail(path, 'a boolean', value));

/** A string or a number (OpenStack ids are integers before Nova microversion 2.53). */
export const stringOrNumber: Check<string> = (value, path) =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fail(path, 'a string or a number', value);

/** Absent (or null, which several OpenStack APIs send for "unset") becomes `undefined`. */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (value, path) => (value === undefined || value === null ? undefined : check(value, path));
}

export function arrayOf<T>(check: Check<T>): Check<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, 'an array', value);
    return value.map((item, i) => check(item, `${path}[${i}]`));
  };
}

export function recordOf<T>(check: Check<T>): Check<Record<string, T>> {
  return (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object', value);
    const out: Record<string, T> = {};
    for (const [key, item] of Object.entries(value)) out[key] = check(item, `${path}.${key}`);
    return out;
  };
}

/** An object with at least the given keys; other keys are ignored (and not returned). */
export function object<S extends Record<string, Check<unknown>>>(shape: S): Check<{ [K in keyof S]: Checked<S[K]> }> {
  return (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object', value);
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(shape)) {
      out[key] = check(value[key], /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);
    }
    return out as { [K in keyof S]: Checked<S[K]> };
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
