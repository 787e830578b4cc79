import { StartupError } from './startup.ts';
import { parseDuration } from './time.ts';

/** Typed access to environment variables, for the `main.ts` of each process (and nowhere else). */
export interface EnvReader {
  string(name: string, fallback: string): string;
  optional(name: string): string | undefined;
  int(name: string, fallback: number): number;
  bool(name: string, fallback: boolean): boolean;
}

/** Reads `env`; a set but malformed value throws a `StartupError` with the variable's name. */
export function envConfig(env: NodeJS.ProcessEnv = process.env): EnvReader {
  const optional = (name: string) => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  return {
    optional,
    string: (name, fallback) => optional(name) ?? fallback,
    int(name, fallback) {
      const raw = optional(name);
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < 0) throw new StartupError(`${name} must be a non-negative integer, got "${raw}"`);
      return value;
    },
    bool(name, fallback) {
      const raw = optional(name)?.toLowerCase();
      if (raw === undefined) return fallback;
      if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
      if (['0', 'false', 'no', 'off'].includes(raw)) return false;
      throw new StartupError(`${name} must be true or false, got "${raw}"`);
    },
  };
}

/** A duration variable (`10s`, `5min`, `1h`; `fallback` the same way) in ms; a malformed one throws with the variable's name. */
export function durationFromEnv(env: EnvReader, name: string, fallback: string): number {
  const seconds = parseDuration(env.string(name, fallback));
  if (seconds instanceof Error) throw new StartupError(`${name}: ${seconds.message}`);
  return seconds * 1000;
}
