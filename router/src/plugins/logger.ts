import { Logger as HiveLogger } from '@graphql-hive/logger';
import type { Logger } from '#log';

/** Hive Gateway's logger, writing through the platform's pino logger (one log format everywhere). */
export function hiveLogger(logger: Logger): HiveLogger {
  return new HiveLogger({
    level: logger.level === 'silent' ? false : 'info',
    writers: [
      {
        write(level, attrs, message) {
          const fields = attrs && !Array.isArray(attrs) ? attrs : { attrs };
          logger[level === 'trace' ? 'trace' : level]({ ...fields, from: 'hive-gateway' }, message ?? '');
        },
      },
    ],
  });
}
