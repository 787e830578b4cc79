import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** How log lines are written: `json` (one JSON object a line, the default) or `pretty` (for people, via pino-pretty). */
export type LogFormat = 'json' | 'pretty';
export const logFormats: readonly LogFormat[] = ['json', 'pretty'];

export interface LoggerOptions {
  format?: LogFormat;
}

/**
 * The one logger factory of the platform. JSON lines on stdout (pino), level from the caller's
 * config. Every line names the process (`name`) and, once, the part of it that wrote the line
 * (`component`: the process's name unless a child logger says otherwise); a child's `component`
 * replaces its parent's instead of being written a second time.
 */
export function createLogger(name: string, level: string = 'info', options: LoggerOptions = {}): Logger {
  const root = pino(
    { base: { name }, level, timestamp: pino.stdTimeFunctions.isoTime },
    options.format === 'pretty' ? prettyStream() : undefined,
  );
  return componentOnce(root, root.child({ component: name }));
}

/** A logger that writes nothing, for tests and embedded use. */
export const silentLogger: Logger = pino({ level: 'silent' });
export { ThrottledWarnings, type ThrottledWarningsOptions, type WarningFields } from './throttled-warnings.ts';

/**
 * pino appends a child's bindings to its parent's, so `logger.child({ component })` under a
 * logger that has one would write the key twice (JSON parsers keep the last; people see both).
 * A child naming a component is made from the root instead, with the parent's other bindings.
 */
function componentOnce(root: Logger, logger: Logger): Logger {
  const rootKeys = new Set(Object.keys(root.bindings()));
  const child = logger.child.bind(logger);
  const componentChild = (bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions): Logger => {
    if (!('component' in bindings)) return componentOnce(root, child(bindings, childOptions));
    const inherited = Object.fromEntries(Object.entries(logger.bindings()).filter(([key]) => key !== 'component' && !rootKeys.has(key)));
    return componentOnce(root, root.child({ ...inherited, ...bindings }, { level: logger.level, ...childOptions }));
  };
  logger.child = componentChild as unknown as Logger['child'];
  return logger;
}

/** pino-pretty, synchronous so that a last line before `process.exit` is not lost. */
function prettyStream(): DestinationStream {
  // Loaded only when asked for: JSON logging needs nothing of it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: Record<string, unknown>) => DestinationStream;
  return pretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: '{component}: {msg}',
    singleLine: true,
  });
}
