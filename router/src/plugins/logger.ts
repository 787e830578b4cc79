import { Logger as HiveLogger } from '@graphql-hive/logger';
import { areClientErrors } from '#kit';
import type { Logger } from '#log';

/**
 * Hive Gateway's logger, writing through the platform's pino logger (one log format everywhere).
 * The runtime logs the errors of subscription events as errors; those a client caused
 * (`NOT_FOUND`, `BAD_USER_INPUT`, ...: `clientErrorCodes`) are the API working as it should, and
 * go to info level without a stack.
 */
export function hiveLogger(logger: Logger): HiveLogger {
  return new HiveLogger({
    level: logger.level === 'silent' ? false : 'info',
    writers: [
      {
        write(level, attrs, message) {
          const fields = attrs && !Array.isArray(attrs) ? attrs : { attrs };
          if ((level === 'error' || level === 'warn') && areClientErrors(errorsIn(attrs))) {
            const { stack: _stack, originalError: _original, ...quiet } = fields as Record<string, unknown>;
            logger.info({ ...quiet, from: 'hive-gateway' }, message || 'client error');
            return;
          }
          logger[level === 'trace' ? 'trace' : level]({ ...fields, from: 'hive-gateway' }, message ?? '');
        },
      },
    ],
  });
}

/** The GraphQL errors a log entry of the runtime is about: the attributes themselves, or their `error`/`errors`. */
function errorsIn(attrs: unknown): unknown[] {
  if (Array.isArray(attrs)) return attrs;
  if (!attrs || typeof attrs !== 'object') return [];
  const { error, errors } = attrs as { error?: unknown; errors?: unknown };
  if (Array.isArray(errors)) return errors;
  if (error) return [error];
  return 'extensions' in attrs ? [attrs] : [];
}
