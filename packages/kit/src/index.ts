export { startSubgraph, readBody, type SubgraphOptions, type SubgraphStartOptions, type RunningSubgraph } from './server.ts';
export { ErrorCode, userError, maskError, intentionalCodes, wrapsUnexpectedError } from './errors.ts';
export { areClientErrors, clientErrorCodes } from './client-errors.ts';
export { quoteInput, QUOTED_INPUT_CHARS } from './quote.ts';
export { RouteTable, type PathParams, type RouteHandler, type RouteMatch } from './route-table.ts';
export { clientMessage, clipInput, MAX_ERROR_MESSAGE_CHARS } from './client-message.ts';
export { DateTime, Duration, JSONScalar } from './scalars.ts';
export {
  parseDuration,
  parseInstant,
  isInstantInBounds,
  instantOutOfBounds,
  MIN_INSTANT_MS,
  MAX_INSTANT_MS,
  MIN_DURATION_SECONDS,
  MAX_DURATION_SECONDS,
} from './time.ts';
export { setLongTimeout, MAX_TIMER_DELAY_MS, type LongTimeout } from './long-timeout.ts';
export { loadTypeDefs } from './typedefs.ts';
export { durationFromEnv, envConfig, type EnvReader } from './config.ts';
export { runService, type Service } from './service.ts';
export {
  checkStartup,
  explainListenError,
  listenProblem,
  withoutSecrets,
  StartupError,
  STARTUP_CHECK_TIMEOUT_MS,
  type PortToListen,
  type ServiceToReach,
} from './startup.ts';
export { runMutation, fingerprintOf, type MutationRunner, type MutationUserError } from './run-mutation.ts';
export { redisService } from './redis-service.ts';
export { OwnedResources } from './owned-resources.ts';
export { StartedRepeater } from './started-repeater.ts';
export {
  MemoryRateLimitStore,
  RedisRateLimitStore,
  type RateLimitDecision,
  type RateLimitStore,
  type RedisRateLimitStoreOptions,
} from './rate-limit-store.ts';
