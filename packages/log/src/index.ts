import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The one logger factory of the platform. JSON lines on stdout (pino), level from the
 * caller's config; `name` tags every line with the component that wrote it.
 */
export function createLogger(name: string, level: string = 'info'): Logger {
  return pino({ name, level, base: { component: name }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that writes nothing, for tests and embedded use. */
export const silentLogger: Logger = pino({ level: 'silent' });
export { ThrottledWarnings, type ThrottledWarningsOptions, type WarningFields } from './throttled-warnings.ts';
