import { createLogger, logFormats, type LogFormat, type Logger } from '#log';
import { envConfig, type EnvReader } from './config.ts';
import { StartupError } from './startup.ts';

const STOP_TIMEOUT_MS = 30_000;

export interface Service {
  close(): Promise<void>;
}

/**
 * The tail of every `main.ts`: reads the environment once, starts the service, stops it cleanly
 * on SIGINT/SIGTERM, and exits non-zero when starting fails. Repeated signals are ignored: a
 * terminal's Ctrl-C reaches npm, tsx and this process together, and tsx relays it once more.
 * A `StartupError` (a port in use, a service not reachable: the operator's to fix) is logged as
 * one line a problem without a stack trace; anything else with its stack. LOG_LEVEL and
 * LOG_FORMAT (`json`, `pretty`) say how it logs.
 */
export function runService(name: string, start: (env: EnvReader, logger: Logger) => Promise<Service>): void {
  const env = envConfig();
  const format = env.string('LOG_FORMAT', 'json');
  if (!(logFormats as readonly string[]).includes(format)) {
    process.stderr.write(`LOG_FORMAT=${format}: set LOG_FORMAT to one of ${logFormats.join(', ')}\n`);
    process.exit(1);
  }
  const logger = createLogger(name, env.string('LOG_LEVEL', 'info'), { format: format as LogFormat });
  start(env, logger).then(
    (service) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping');
        // A part that does not finish stopping must not keep the process (and its ports) alive.
        const deadline = setTimeout(() => {
          logger.error({ timeoutMs: STOP_TIMEOUT_MS }, 'did not stop in time; exiting');
          process.exit(1);
        }, STOP_TIMEOUT_MS);
        deadline.unref();
        service.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (error: unknown) => {
      if (error instanceof StartupError) for (const problem of error.problems) logger.fatal(problem);
      else logger.fatal({ err: error }, `${name} failed to start`);
      process.exit(1);
    },
  );
}
